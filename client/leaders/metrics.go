package leaders

import (
	"k8s.io/component-base/metrics"
)

// clientMetrics are one Client's metrics, in a registry of its own that the
// embedding agent serves or gathers from (Client.Registry).
type clientMetrics struct {
	registry   metrics.KubeRegistry
	source     *metrics.GaugeVec
	switches   *metrics.Counter
	deliveries *metrics.Counter
	lastUpdate *metrics.Gauge
	stale      *metrics.Gauge
	// last is the last source that answered.
	last Source
}

func newClientMetrics() *clientMetrics {
	m := &clientMetrics{
		registry: metrics.NewKubeRegistry(),
		source: metrics.NewGaugeVec(&metrics.GaugeOpts{Namespace: "leaderhub", Subsystem: "client", Name: "source",
			Help: "1 for the source the pool's Config is read from (view, endpointslice, endpoints, configmap), 0 for the others."},
			[]string{"source"}),
		switches: metrics.NewCounter(&metrics.CounterOpts{Namespace: "leaderhub", Subsystem: "client", Name: "source_switches_total",
			Help: "Times the client started reading the pool's Config from another source."}),
		deliveries: metrics.NewCounter(&metrics.CounterOpts{Namespace: "leaderhub", Subsystem: "client", Name: "changes_total",
			Help: "Configs delivered on Changes (new content, the cached Config, its first confirmation)."}),
		lastUpdate: metrics.NewGauge(&metrics.GaugeOpts{Namespace: "leaderhub", Subsystem: "client", Name: "last_update_timestamp_seconds",
			Help: "When a source last answered with the pool's Config (Unix time); 0 before any did."}),
		stale: metrics.NewGauge(&metrics.GaugeOpts{Namespace: "leaderhub", Subsystem: "client", Name: "stale",
			Help: "1 while the Config held is not what a source answers now: served from the cache file before any " +
				"source answered, or while every source fails."}),
	}
	m.registry.MustRegister(m.source, m.switches, m.deliveries, m.lastUpdate, m.stale)
	for _, s := range DefaultSources {
		m.source.WithLabelValues(string(s)).Set(0)
	}
	m.stale.Set(1)
	return m
}

// Registry holds the client's metrics (leaderhub_client_*), apart from any
// other: an agent embedding the client serves it, or adds it to what its
// own /metrics gathers (it is a prometheus.Gatherer).
func (c *Client) Registry() metrics.KubeRegistry { return c.metrics.registry }

// inUse records the source the Config is read from now ("" for none),
// after prev. The caller serializes calls.
func (m *clientMetrics) inUse(prev, now Source) {
	if prev == now {
		return
	}
	if prev != "" {
		m.source.WithLabelValues(string(prev)).Set(0)
	}
	if now == "" {
		m.stale.Set(1)
		return
	}
	m.source.WithLabelValues(string(now)).Set(1)
	if m.last != "" && m.last != now {
		m.switches.Inc()
	}
	m.last = now
}
