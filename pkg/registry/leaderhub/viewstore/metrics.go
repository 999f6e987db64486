package viewstore

import (
	"k8s.io/component-base/metrics"

	"github.com/leaderhub/leaderhub/pkg/instancemetrics"
)

// storeMetrics are one store's metrics. They count nothing until registered.
type storeMetrics struct {
	events          *metrics.CounterVec
	droppedWatchers *metrics.Counter
	invalidLeaders  *metrics.Counter
	// gauges are read from the store when scraped.
	gauges *instancemetrics.Gauges
}

func newStoreMetrics(s *Store) *storeMetrics {
	gauge := func(name, help string, value func() int) instancemetrics.Gauge {
		return instancemetrics.Gauge{Namespace: "leaderhub", Subsystem: "view", Name: name, Help: help,
			Value: func() float64 {
				s.mu.RLock()
				defer s.mu.RUnlock()
				return float64(value())
			}}
	}
	return &storeMetrics{
		events: metrics.NewCounterVec(&metrics.CounterOpts{
			Namespace: "leaderhub", Subsystem: "view", Name: "events_total",
			Help: "Changes of LeaderHub projections, by watch event type. NodePool updates that leave the projection unchanged are not counted.",
		}, []string{"type"}),
		droppedWatchers: metrics.NewCounter(&metrics.CounterOpts{
			Namespace: "leaderhub", Subsystem: "view", Name: "dropped_watchers_total",
			Help: "Watches ended because the client did not read its events fast enough.",
		}),
		invalidLeaders: metrics.NewCounter(&metrics.CounterOpts{
			Namespace: "leaderhub", Subsystem: "view", Name: "invalid_leaders_total",
			Help: "NodePool leader entries left out of a projection because they cannot be published.",
		}),
		gauges: instancemetrics.NewGauges(
			gauge("pools", "NodePools with a LeaderHub in the view.", func() int { return s.published }),
			gauge("watchers", "Open watches of the view.", func() int { return s.watchers.len() }),
		),
	}
}

// RegisterMetrics registers the store's metrics with r, once: the server
// registers them with the legacy registry served on /metrics.
func (s *Store) RegisterMetrics(r instancemetrics.Registry) {
	r.MustRegister(s.metrics.events, s.metrics.droppedWatchers, s.metrics.invalidLeaders)
	r.CustomMustRegister(s.metrics.gauges)
}
