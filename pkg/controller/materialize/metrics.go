package materialize

import (
	"sync"
	"sync/atomic"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	syncsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "leaderhub", Subsystem: "controller", Name: "syncs_total",
		Help: "Syncs of one pool's objects, by result: unchanged, created, updated, deleted, conflict, skipped or error.",
	}, []string{"result"})
	syncDuration = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace: "leaderhub", Subsystem: "controller", Name: "sync_duration_seconds",
		Help:    "Time to sync one pool's objects.",
		Buckets: metrics.ExponentialBuckets(0.0005, 2, 14),
	})
	writesTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "leaderhub", Subsystem: "controller", Name: "writes_total",
		Help: "API writes by the controller, by form (endpoints, configmap) and verb.",
	}, []string{"form", "verb"})
	conflictsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "leaderhub", Subsystem: "controller", Name: "conflicts_total",
		Help: "Syncs that found an object with the pool's name that leaderhub does not manage, and left it alone.",
	}, []string{"form"})
	lastSuccess = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace: "leaderhub", Subsystem: "controller", Name: "last_successful_sync_timestamp_seconds",
		Help: "Unix time of the last sync that ended without error.",
	})
	isLeader = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace: "leaderhub", Subsystem: "controller", Name: "leader",
		Help: "1 while this replica holds the controller's lease and runs it.",
	})
	registerOnce sync.Once

	// running is the controller this replica runs, which the pool gauges
	// read; nil (and the gauges 0) while it runs none.
	running atomic.Pointer[Controller]

	managedPools = poolGauge("managed_pools", "NodePools whose objects the controller keeps.",
		func(t poolTotals) int { return t.managed })
	poolsWithoutLeaders = poolGauge("pools_without_leaders", "Managed NodePools with no valid leader.",
		func(t poolTotals) int { return t.withoutLeaders })
	invalidLeaderAddresses = poolGauge("invalid_leader_addresses",
		"Leader entries currently left out because their address or node name cannot be published.",
		func(t poolTotals) int { return t.invalidLeaders })
)

// poolGauge is a gauge computed, when scraped, from the running controller's
// pools.
func poolGauge(name, help string, value func(poolTotals) int) metrics.GaugeFunc {
	return metrics.NewGaugeFunc(&metrics.GaugeOpts{Namespace: "leaderhub", Subsystem: "controller", Name: name, Help: help},
		func() float64 {
			c := running.Load()
			if c == nil {
				return 0
			}
			return float64(value(c.totals()))
		})
}

// RegisterMetrics registers the controller's metrics with the legacy registry
// served on /metrics.
func RegisterMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(syncsTotal, syncDuration, writesTotal, conflictsTotal, lastSuccess, isLeader)
		legacyregistry.RawMustRegister(managedPools, poolsWithoutLeaders, invalidLeaderAddresses)
	})
}

// SetLeader records whether this replica runs the controller.
func SetLeader(leading bool) {
	if leading {
		isLeader.Set(1)
	} else {
		isLeader.Set(0)
	}
}
