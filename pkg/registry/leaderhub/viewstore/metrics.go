package viewstore

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	eventsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "leaderhub", Subsystem: "view", Name: "events_total",
		Help: "Changes of LeaderHub projections, by watch event type. NodePool updates that leave the projection unchanged are not counted.",
	}, []string{"type"})
	pools = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace: "leaderhub", Subsystem: "view", Name: "pools",
		Help: "NodePools with a LeaderHub in the view.",
	})
	watchers = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace: "leaderhub", Subsystem: "view", Name: "watchers",
		Help: "Open watches of the view.",
	})
	droppedWatchers = metrics.NewCounter(&metrics.CounterOpts{
		Namespace: "leaderhub", Subsystem: "view", Name: "dropped_watchers_total",
		Help: "Watches ended because the client did not read its events fast enough.",
	})
	invalidLeaders = metrics.NewCounter(&metrics.CounterOpts{
		Namespace: "leaderhub", Subsystem: "view", Name: "invalid_leaders_total",
		Help: "NodePool leader entries left out of a projection because they cannot be published.",
	})
	registerOnce sync.Once
)

// RegisterMetrics registers the view's metrics with the legacy registry
// served on /metrics.
func RegisterMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(eventsTotal, pools, watchers, droppedWatchers, invalidLeaders)
	})
}
