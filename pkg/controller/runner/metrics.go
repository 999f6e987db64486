package runner

import (
	"sync"

	"k8s.io/component-base/metrics"

	"github.com/leaderhub/leaderhub/pkg/instancemetrics"
)

// resyncs counts the resyncs each controller has started: every pool queued
// again. With the syncs counters it tells whether a resync ran, which an
// operator (and a test) needs before reading "no write" as "nothing to do".
var resyncs = metrics.NewCounterVec(&metrics.CounterOpts{Namespace: "leaderhub", Subsystem: "controller",
	Name: "resyncs_total",
	Help: "Resyncs started, by controller (materialize, hubleader): every pool queued again, each resync period."},
	[]string{"controller"})

var registerOnce sync.Once

// RegisterMetrics registers the runners' metrics with r; only the first call
// registers (the metrics are shared by every runner of the process).
func RegisterMetrics(r instancemetrics.Registry) {
	registerOnce.Do(func() { r.MustRegister(resyncs) })
}
