package election

import (
	"k8s.io/component-base/metrics"

	"github.com/leaderhub/leaderhub/pkg/instancemetrics"
)

const (
	resultSucceeded    = "succeeded"
	resultFailed       = "failed"
	resultNoCandidates = "no_candidates"
)

// trackerMetrics are one tracker's metrics; they count nothing until
// registered.
type trackerMetrics struct {
	elections           *metrics.CounterVec
	duration            *metrics.Histogram
	pools               *metrics.GaugeVec
	stale               *metrics.Gauge
	leaderlessElectable *metrics.Gauge
	leaderChanges       *metrics.Counter
}

func newTrackerMetrics() *trackerMetrics {
	return &trackerMetrics{
		elections: metrics.NewCounterVec(&metrics.CounterOpts{Namespace: "leaderhub", Name: "elections_total",
			Help: "Hub-leader elections by result. An election runs from the moment a reachable pool with election on " +
				"needs leaders (it has fewer valid leaders than min(leaderReplicas, eligible Nodes), or publishes one that " +
				"is not valid), as the API dates it, until it has them and publishes none that is not. It succeeded if " +
				"it ended with at least one valid leader within --election-deadline, failed when the deadline passed, " +
				"and ended with no_candidates when it ended with no leader because no Node can lead. Every replica " +
				"counts every election: aggregate replicas with max, not sum."}, []string{"result"}),
		duration: metrics.NewHistogram(&metrics.HistogramOpts{Namespace: "leaderhub", Name: "election_duration_seconds",
			Help:    "Time from the moment a pool needed leaders to the moment it had them, for every election that ended with a leader.",
			Buckets: metrics.ExponentialBuckets(0.05, 2, 14)}),
		pools: metrics.NewGaugeVec(&metrics.GaugeOpts{Namespace: "leaderhub", Name: "election_pools",
			Help: "NodePools with election on, by state: ready (as many valid leaders as leaderReplicas), " +
				"degraded (fewer, but some), leaderless, or unreachable (at least --pool-disruption-threshold of its " +
				"Nodes NotReady, or its leaders kept through --pool-recovery-grace-period after that)."}, []string{"state"}),
		stale: metrics.NewGauge(&metrics.GaugeOpts{Namespace: "leaderhub", Name: "stale_leaders",
			Help: "Published leaders that are not valid: their Node is gone, out of the pool, not Ready, or no longer has " +
				"that InternalIP; leaders kept through their pool's outage are not counted."}),
		leaderlessElectable: metrics.NewGauge(&metrics.GaugeOpts{Namespace: "leaderhub", Name: "election_leaderless_electable_pools",
			Help: "Reachable NodePools with election on and no valid leader although at least one Node could lead them."}),
		leaderChanges: metrics.NewCounter(&metrics.CounterOpts{Namespace: "leaderhub", Name: "leader_changes_total",
			Help: "Changes of a pool's published leader set (status.leaderEndpoints, as node/address pairs)."}),
	}
}

// setTotals shows the tracker's sums.
func (m *trackerMetrics) setTotals(t *totals) {
	for _, s := range States {
		m.pools.WithLabelValues(string(s)).Set(float64(t.states[s]))
	}
	m.stale.Set(float64(t.stale))
	m.leaderlessElectable.Set(float64(t.leaderlessElectable))
}

// RegisterMetrics registers the tracker's metrics with r, once.
func (t *Tracker) RegisterMetrics(r instancemetrics.Registry) {
	m := t.metrics
	r.MustRegister(m.elections, m.duration, m.pools, m.stale, m.leaderlessElectable, m.leaderChanges)
	for _, res := range []string{resultSucceeded, resultFailed, resultNoCandidates} {
		m.elections.WithLabelValues(res)
	}
	m.setTotals(&t.totals)
}
