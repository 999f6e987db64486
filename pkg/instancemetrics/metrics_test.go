package instancemetrics

import (
	"strings"
	"testing"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/testutil"
)

// TestGaugesReadWhenScraped: two owners' gauges of the same name live in two
// registries without touching each other, and each scrape reads the owner.
func TestGaugesReadWhenScraped(t *testing.T) {
	a, b := 1.0, 7.0
	ra, rb := metrics.NewKubeRegistry(), metrics.NewKubeRegistry()
	gauge := func(v *float64) Gauge {
		return Gauge{Namespace: "leaderhub", Subsystem: "test", Name: "things", Help: "Things.", Value: func() float64 { return *v }}
	}
	ra.CustomMustRegister(NewGauges(gauge(&a)))
	rb.CustomMustRegister(NewGauges(gauge(&b)))
	a = 3
	want := func(v string) string {
		return "# HELP leaderhub_test_things [ALPHA] Things.\n# TYPE leaderhub_test_things gauge\nleaderhub_test_things " + v + "\n"
	}
	if err := testutil.GatherAndCompare(ra, strings.NewReader(want("3")), "leaderhub_test_things"); err != nil {
		t.Error(err)
	}
	if err := testutil.GatherAndCompare(rb, strings.NewReader(want("7")), "leaderhub_test_things"); err != nil {
		t.Error(err)
	}
}
