package instancemetrics

import (
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// Registry is where an instance registers its metrics; metrics.KubeRegistry
// is one.
type Registry interface {
	MustRegister(...metrics.Registerable)
	CustomMustRegister(...metrics.StableCollector)
}

var _ Registry = metrics.NewKubeRegistry()

// Legacy is the process's legacy registry, which k8s.io/apiserver serves on
// /metrics. Only the server registers with it, once per instance it owns.
func Legacy() Registry { return legacy{} }

type legacy struct{}

func (legacy) MustRegister(cs ...metrics.Registerable) { legacyregistry.MustRegister(cs...) }

func (legacy) CustomMustRegister(cs ...metrics.StableCollector) {
	legacyregistry.CustomMustRegister(cs...)
}

// Gauge is one gauge of Gauges: its name, help and how to read it.
type Gauge struct {
	Namespace, Subsystem, Name, Help string
	Value                            func() float64
}

// Gauges are gauges whose values are read from their owner when scraped.
type Gauges struct {
	metrics.BaseStableCollector
	gauges []Gauge
	descs  []*metrics.Desc
}

var _ metrics.StableCollector = &Gauges{}

// NewGauges returns a collector of the gauges (ALPHA stability).
func NewGauges(gauges ...Gauge) *Gauges {
	g := &Gauges{gauges: gauges}
	for _, x := range gauges {
		g.descs = append(g.descs, metrics.NewDesc(metrics.BuildFQName(x.Namespace, x.Subsystem, x.Name), x.Help,
			nil, nil, metrics.ALPHA, ""))
	}
	return g
}

// DescribeWithStability sends the gauges' descriptions.
func (g *Gauges) DescribeWithStability(ch chan<- *metrics.Desc) {
	for _, d := range g.descs {
		ch <- d
	}
}

// CollectWithStability reads every gauge.
func (g *Gauges) CollectWithStability(ch chan<- metrics.Metric) {
	for i, x := range g.gauges {
		ch <- metrics.NewLazyConstMetric(g.descs[i], metrics.GaugeValue, x.Value())
	}
}
