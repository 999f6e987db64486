package election

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/component-base/metrics"
	"k8s.io/klog/v2"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/feed"
	"github.com/leaderhub/leaderhub/test/fixtures"
)

// BenchmarkTrackerMemory measures the heap the election tracker holds per
// pool for 10,000 NodePools shaped as bench scenario 6 writes them (election
// on, two leaders, pool-scoped metadata, a LeaderReady condition) whose
// leaders have no Node, so every pool has an election open with its
// deadline timer (the tracker's most expensive pool), or whose leaders are
// valid (a pool at rest).
func BenchmarkTrackerMemory(b *testing.B) {
	const pools = 10_000
	nps := make([]*appsv1beta2.NodePool, pools)
	raw := make([][]byte, pools)
	for i := range nps {
		np := fixtures.NodePool(fmt.Sprintf("pool-%05d", i), fixtures.Edge(), fixtures.InterConnected(),
			fixtures.WithElection(appsv1beta2.ElectionStrategyRandom, 2), fixtures.WithPoolScopeMetadata(fixtures.DefaultPoolScopeMetadata...),
			fixtures.WithLeaders(appsv1beta2.Leader{NodeName: fmt.Sprintf("edge-%d-0", i), Address: fmt.Sprintf("10.%d.%d.1", i>>8, i&255)},
				appsv1beta2.Leader{NodeName: fmt.Sprintf("edge-%d-1", i), Address: fmt.Sprintf("10.%d.%d.2", i>>8, i&255)}))
		np.UID = types.UID(fmt.Sprintf("0d1c0fd0-6c4a-4f2e-9a3e-%012d", i))
		np.ResourceVersion = fmt.Sprint(100_000 + i)
		np.Status.LeaderLastElectedTime = metav1.Now()
		np.Status.Conditions = []appsv1beta2.NodePoolCondition{{Type: appsv1beta2.LeaderStatus, Status: "True",
			Reason: "LeadersElected", Message: "2 of 2 leaders elected", LastTransitionTime: metav1.Now()}}
		nps[i] = np
		var err error
		if raw[i], err = json.Marshal(np); err != nil {
			b.Fatal(err)
		}
	}
	quietKlog(b)
	for _, tc := range []struct {
		name  string
		nodes bool
	}{{"elections open", false}, {"leaders valid", true}} {
		b.Run(tc.name, func(b *testing.B) {
			var perPool float64
			for range b.N {
				nodes := feed.NewNodeCache()
				if tc.nodes {
					for _, np := range nps {
						for _, l := range np.Status.LeaderEndpoints {
							if err := nodes.Add(fixtures.Node(l.NodeName, np.Name, true, l.Address)); err != nil {
								b.Fatal(err)
							}
						}
					}
				}
				before := fixtures.LiveHeap()
				tracker := NewTracker(nodes, Options{Deadline: time.Hour})
				tracker.RegisterMetrics(metrics.NewKubeRegistry())
				tracker.Start()
				for _, data := range raw {
					// Decoded, as the NodePool watch delivers it: the
					// tracker keeps only what it takes from it.
					np := &appsv1beta2.NodePool{}
					if err := json.Unmarshal(data, np); err != nil {
						b.Fatal(err)
					}
					tracker.Upsert(np)
				}
				perPool = float64(fixtures.LiveHeap()-before) / pools
				if v, ok := tracker.Verdict(nps[0].Name); !ok || v.NeedsLeaders() == tc.nodes {
					b.Fatalf("verdict %+v", v)
				}
				runtime.KeepAlive(tracker)
			}
			b.ReportMetric(perPool, "B/pool")
		})
	}
}

// quietKlog keeps the tracker's log lines out of the benchmark's output,
// where they would split a result line, until b ends.
func quietKlog(b *testing.B) {
	var fs flag.FlagSet
	klog.InitFlags(&fs)
	if err := fs.Set("logtostderr", "false"); err != nil {
		b.Fatal(err)
	}
	klog.SetOutput(io.Discard)
	b.Cleanup(func() {
		klog.SetOutput(os.Stderr)
		_ = fs.Set("logtostderr", "true")
	})
}
