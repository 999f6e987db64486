package materialize

import (
	"k8s.io/component-base/metrics"

	"github.com/leaderhub/leaderhub/pkg/instancemetrics"
)

// controllerMetrics are one controller's metrics. They count nothing until
// registered.
type controllerMetrics struct {
	syncs        *metrics.CounterVec
	syncDuration *metrics.Histogram
	writes       *metrics.CounterVec
	conflicts    *metrics.CounterVec
	rejections   *metrics.CounterVec
	lastSuccess  *metrics.Gauge
	// pools are gauges read from the controller when scraped: whether it
	// runs, and what its pools look like (0 while it does not run).
	pools *instancemetrics.Gauges
}

func counterOpts(name, help string) *metrics.CounterOpts {
	return &metrics.CounterOpts{Namespace: "leaderhub", Subsystem: "controller", Name: name, Help: help}
}

func newControllerMetrics(c *Controller) *controllerMetrics {
	gauge := func(name, help string, value func(poolTotals) int) instancemetrics.Gauge {
		return instancemetrics.Gauge{Namespace: "leaderhub", Subsystem: "controller", Name: name, Help: help,
			Value: func() float64 { return float64(value(c.totals())) }}
	}
	return &controllerMetrics{
		syncs: metrics.NewCounterVec(counterOpts("syncs_total",
			"Syncs of one pool's objects, by result: unchanged, created, updated, deleted, conflict, rejected, skipped or error."),
			[]string{"result"}),
		writes: metrics.NewCounterVec(counterOpts("writes_total",
			"API writes by the controller, by form (endpoints, configmap) and verb."), []string{"form", "verb"}),
		conflicts: metrics.NewCounterVec(counterOpts("conflicts_total",
			"Syncs that found an object with the pool's name that leaderhub does not manage, and left it alone."),
			[]string{"form"}),
		rejections: metrics.NewCounterVec(counterOpts("rejections_total",
			"Objects of one form that cannot be written for a pool as it is (the form cannot hold its name, or "+
				"kube-apiserver rejects the object as invalid), counted once per pool and cause, by form and reason. "+
				"They are not retried with backoff, and the pool's other forms are written."), []string{"form", "reason"}),
		syncDuration: metrics.NewHistogram(&metrics.HistogramOpts{
			Namespace: "leaderhub", Subsystem: "controller", Name: "sync_duration_seconds",
			Help:    "Time to sync one pool's objects.",
			Buckets: metrics.ExponentialBuckets(0.0005, 2, 14),
		}),
		lastSuccess: metrics.NewGauge(&metrics.GaugeOpts{
			Namespace: "leaderhub", Subsystem: "controller", Name: "last_successful_sync_timestamp_seconds",
			Help: "Unix time of the last sync that ended without error.",
		}),
		pools: instancemetrics.NewGauges(
			instancemetrics.Gauge{Namespace: "leaderhub", Subsystem: "controller", Name: "leader",
				Help: "1 while this replica holds the controller's lease and runs it.",
				Value: func() float64 {
					if c.runner.Running() {
						return 1
					}
					return 0
				}},
			instancemetrics.Gauge{Namespace: "leaderhub", Subsystem: "controller", Name: "resync_period_seconds",
				Help: "--controller-resync-period: every pool is synced at least this often while the controller runs, " +
					"so last_successful_sync_timestamp_seconds is never older on a healthy leader with pools.",
				Value: func() float64 { return c.opts.ResyncPeriod.Seconds() }},
			gauge("managed_pools", "NodePools whose objects the controller keeps; 0 on a replica that does not run it.",
				func(t poolTotals) int { return t.managed }),
			gauge("pools_without_leaders", "Managed NodePools with leader election on and no valid leader "+
				"(a pool with election off needs none).",
				func(t poolTotals) int { return t.withoutLeaders }),
			gauge("invalid_leader_addresses",
				"Leader entries currently left out because their address or node name cannot be published.",
				func(t poolTotals) int { return t.invalidLeaders }),
		),
	}
}

// RegisterMetrics registers the controller's metrics with r, once: the
// server registers them with the legacy registry served on /metrics.
func (c *Controller) RegisterMetrics(r instancemetrics.Registry) {
	m := c.metrics
	r.MustRegister(m.syncs, m.syncDuration, m.writes, m.conflicts, m.rejections, m.lastSuccess)
	r.CustomMustRegister(m.pools)
	// Every form's conflicts and rejections start at 0, so that they are
	// exported (and increase() sees the first one) before any happens.
	for _, oc := range c.objects {
		form := string(oc.Form())
		m.conflicts.WithLabelValues(form)
		m.rejections.WithLabelValues(form, ReasonObjectInvalid)
		if oc.Form() == FormConfigMap {
			m.rejections.WithLabelValues(form, ReasonPoolNameTooLongForConfigMap)
		}
	}
}
