package hubleader

import (
	"k8s.io/component-base/metrics"

	"github.com/leaderhub/leaderhub/pkg/instancemetrics"
)

type controllerMetrics struct {
	syncs  *metrics.CounterVec
	writes *metrics.Counter
	// foreignWrites counts leaders found changed by another writer.
	foreignWrites *metrics.Counter
	leader        *instancemetrics.Gauges
}

func newControllerMetrics(c *Controller) *controllerMetrics {
	return &controllerMetrics{
		syncs: metrics.NewCounterVec(&metrics.CounterOpts{Namespace: "leaderhub", Subsystem: "hubleader", Name: "syncs_total",
			Help: "Elections of one pool by the elector, by result: unchanged, written, behind (its cache had not seen its " +
				"last write yet), settling (waiting a moment before it replaces a NotReady leader), conflict or error."}, []string{"result"}),
		writes: metrics.NewCounter(&metrics.CounterOpts{Namespace: "leaderhub", Subsystem: "hubleader", Name: "status_writes_total",
			Help: "NodePool status writes by the elector."}),
		foreignWrites: metrics.NewCounter(&metrics.CounterOpts{Namespace: "leaderhub", Subsystem: "hubleader", Name: "foreign_leader_writes_total",
			Help: "Times the elector found a pool's leaders changed by another writer since it last wrote them " +
				"(in its current lease term): usually yurt-manager's hubleader controller still running."}),
		leader: instancemetrics.NewGauges(instancemetrics.Gauge{Namespace: "leaderhub", Subsystem: "hubleader", Name: "running",
			Help: "1 while the elector runs on this replica (it holds the controller lease).",
			Value: func() float64 {
				if c.runner.Running() {
					return 1
				}
				return 0
			}}),
	}
}

// RegisterMetrics registers the elector's metrics with r, once.
func (c *Controller) RegisterMetrics(r instancemetrics.Registry) {
	r.MustRegister(c.metrics.syncs, c.metrics.writes, c.metrics.foreignWrites)
	r.CustomMustRegister(c.metrics.leader)
}
