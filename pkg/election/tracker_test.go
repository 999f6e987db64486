package election

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/testutil"
	clocktesting "k8s.io/utils/clock/testing"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/feed"
	"github.com/leaderhub/leaderhub/test/fixtures"
)

func node(name, pool string, ready bool, ips ...string) *corev1.Node {
	return fixtures.Node(name, pool, ready, ips...)
}

func nodePool(name string, enabled bool, replicas int32, leaders ...appsv1beta2.Leader) *appsv1beta2.NodePool {
	np := fixtures.NodePool(name, fixtures.WithResourceVersion(10), fixtures.WithLeaders(leaders...))
	np.Spec.EnableLeaderElection, np.Spec.LeaderReplicas = enabled, replicas
	return np
}

// trackerFixture is a tracker over a real Node indexer, a fake clock and a
// registry of its own.
type trackerFixture struct {
	t       *testing.T
	nodes   cache.Indexer
	clock   *clocktesting.FakeClock
	tracker *Tracker
	notes   map[string]int
}

func newFixture(t *testing.T, nodes ...*corev1.Node) *trackerFixture {
	f := &trackerFixture{t: t, nodes: cache.NewIndexer(cache.MetaNamespaceKeyFunc, feed.NodeIndexers),
		clock: clocktesting.NewFakeClock(time.Unix(1_700_000_000, 0)), notes: map[string]int{}}
	for _, n := range nodes {
		f.putNode(n)
	}
	f.tracker = NewTracker(f.nodes, Options{Deadline: time.Minute, Clock: f.clock})
	f.tracker.RegisterMetrics(metrics.NewKubeRegistry())
	f.tracker.AddListener(func(pool string) { f.notes[pool]++ })
	return f
}

func (f *trackerFixture) putNode(n *corev1.Node) {
	f.t.Helper()
	slim, _ := feed.SlimNode(n)
	old, exists, _ := f.nodes.Get(slim)
	if err := f.nodes.Update(slim); err != nil {
		f.t.Fatal(err)
	}
	if f.tracker == nil {
		return
	}
	if exists {
		f.tracker.NodeHandler().OnUpdate(old, slim)
	} else {
		f.tracker.NodeHandler().OnAdd(slim, false)
	}
}

func (f *trackerFixture) counter(result string) float64 {
	f.t.Helper()
	v, err := testutil.GetCounterMetricValue(f.tracker.metrics.elections.WithLabelValues(result))
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func (f *trackerFixture) gauge(g metrics.GaugeMetric) float64 {
	f.t.Helper()
	v, err := testutil.GetGaugeMetricValue(g)
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func (f *trackerFixture) durations() uint64 {
	f.t.Helper()
	n, err := testutil.GetHistogramMetricCount(f.tracker.metrics.duration.ObserverMetric)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *trackerFixture) verdict(pool string) Verdict {
	f.t.Helper()
	v, ok := f.tracker.Verdict(pool)
	if !ok {
		f.t.Fatalf("no verdict for %s", pool)
	}
	return v
}

func leader(node, ip string) appsv1beta2.Leader {
	return appsv1beta2.Leader{NodeName: node, Address: ip}
}

// TestTrackerElections walks one pool through an election that succeeds, one
// that fails past the deadline and is closed by a later success, and the
// gauges on the way.
func TestTrackerElections(t *testing.T) {
	f := newFixture(t, node("n1", "p", true, "10.0.0.1"), node("n2", "p", true, "10.0.0.2"), node("n3", "p", false, "10.0.0.3"))
	f.tracker.Replace([]*appsv1beta2.NodePool{nodePool("p", true, 1), nodePool("off", false, 1)})
	if _, ok := f.tracker.Verdict("p"); ok {
		t.Fatal("judged before Start")
	}
	f.tracker.Start()
	if v := f.verdict("p"); v != (Verdict{Enabled: true, Wanted: 1, Eligible: 2}) || !v.NeedsLeaders() || v.State() != StateLeaderless {
		t.Fatalf("leaderless pool: %+v", v)
	}
	if f.gauge(f.tracker.metrics.pools.WithLabelValues("leaderless")) != 1 || f.gauge(f.tracker.metrics.leaderlessElectable) != 1 {
		t.Error("leaderless pool not counted")
	}

	// A leader is written 3s later: the election succeeded in 3s.
	f.clock.Step(3 * time.Second)
	f.tracker.Upsert(nodePool("p", true, 1, leader("n1", "10.0.0.1")))
	if f.counter(resultSucceeded) != 1 || f.durations() != 1 || f.verdict("p").State() != StateReady {
		t.Fatalf("election not closed: succeeded %v, %d durations, %+v", f.counter(resultSucceeded), f.durations(), f.verdict("p"))
	}
	if v, _ := testutil.GetCounterMetricValue(f.tracker.metrics.leaderChanges); v != 1 {
		t.Errorf("leader changes %v, want 1", v)
	}

	// Status churn outside the election changes nothing and tells nobody.
	notes := f.notes["p"]
	churn := nodePool("p", true, 1, leader("n1", "10.0.0.1"))
	churn.ResourceVersion, churn.Status.ReadyNodeNum = "11", 5
	f.tracker.Upsert(churn)
	if f.notes["p"] != notes {
		t.Error("status churn notified the elector")
	}

	// The leader's Node goes NotReady: stale, a new election, which fails at
	// the deadline and is closed (not counted again) when a leader comes.
	f.putNode(node("n1", "p", false, "10.0.0.1"))
	if v := f.verdict("p"); v.Stale != 1 || v.Valid != 0 || v.Eligible != 1 || !v.NeedsLeaders() {
		t.Fatalf("stale leader: %+v", v)
	}
	if f.gauge(f.tracker.metrics.stale) != 1 || f.notes["p"] != notes+1 {
		t.Error("stale leader not counted or not notified")
	}
	f.clock.Step(59 * time.Second)
	if f.counter(resultFailed) != 0 {
		t.Fatal("failed before the deadline")
	}
	f.clock.Step(2 * time.Second)
	if f.counter(resultFailed) != 1 {
		t.Fatal("not failed past the deadline")
	}
	f.tracker.Upsert(nodePool("p", true, 1, leader("n2", "10.0.0.2")))
	if f.counter(resultSucceeded) != 1 || f.counter(resultFailed) != 1 || f.durations() != 2 || f.gauge(f.tracker.metrics.stale) != 0 {
		t.Errorf("late success: succeeded %v failed %v durations %d", f.counter(resultSucceeded), f.counter(resultFailed), f.durations())
	}

	// A heartbeat of the leader's Node is not an event for the pool.
	notes = f.notes["p"]
	beat := node("n2", "p", true, "10.0.0.2")
	beat.ResourceVersion = "2"
	f.putNode(beat)
	if f.notes["p"] != notes {
		t.Error("a heartbeat notified the elector")
	}

	// An InternalIP change makes the published leader stale.
	f.putNode(node("n2", "p", true, "10.0.0.22"))
	if v := f.verdict("p"); v.Stale != 1 {
		t.Errorf("leader whose IP changed: %+v", v)
	}
	// A Node moved to another pool stops being a valid leader (and the
	// pool it left is judged again, through leaderOf and its old label).
	f.tracker.Upsert(nodePool("p", true, 1, leader("n2", "10.0.0.22")))
	f.putNode(node("n2", "q", true, "10.0.0.22"))
	if v := f.verdict("p"); v.Stale != 1 || v.Eligible != 0 {
		t.Errorf("leader moved out: %+v", v)
	}

	// Deleting the pool abandons its election: neither result is counted.
	succeeded, failed := f.counter(resultSucceeded), f.counter(resultFailed)
	f.tracker.Delete("p")
	f.clock.Step(2 * time.Minute)
	if f.counter(resultSucceeded) != succeeded || f.counter(resultFailed) != failed || f.gauge(f.tracker.metrics.stale) != 0 {
		t.Error("a deleted pool's election was counted")
	}
	if v, ok := f.tracker.Verdict("off"); !ok || v.Enabled || f.gauge(f.tracker.metrics.pools.WithLabelValues("ready")) != 0 {
		t.Errorf("pool with election off: %+v", v)
	}
}

// TestVerdict: states and whether a pool needs leaders, from counts.
func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		name  string
		v     Verdict
		state State
		needs bool
	}{
		{"off", Verdict{}, "", false},
		{"ready", Verdict{Enabled: true, Wanted: 2, Published: 2, Valid: 2, Eligible: 4}, StateReady, false},
		{"short with candidates", Verdict{Enabled: true, Wanted: 3, Published: 1, Valid: 1, Eligible: 4}, StateDegraded, true},
		{"short without candidates", Verdict{Enabled: true, Wanted: 3, Published: 1, Valid: 1, Eligible: 1}, StateDegraded, false},
		{"no candidates at all", Verdict{Enabled: true, Wanted: 1}, StateLeaderless, false},
		{"stale published", Verdict{Enabled: true, Wanted: 1, Published: 2, Valid: 1, Stale: 1, Eligible: 1}, StateReady, true},
		{"more than wanted", Verdict{Enabled: true, Wanted: 1, Published: 2, Valid: 2, Eligible: 3}, StateReady, false},
	} {
		if got := tc.v.State(); got != tc.state {
			t.Errorf("%s: state %q, want %q", tc.name, got, tc.state)
		}
		if got := tc.v.NeedsLeaders(); got != tc.needs {
			t.Errorf("%s: needs leaders %t, want %t", tc.name, got, tc.needs)
		}
	}
}

// TestTrackerWaitsForStart: before Start, neither judgement nor
// notification, so a half-synced Node cache never reads as stale leaders.
func TestTrackerWaitsForStart(t *testing.T) {
	f := newFixture(t)
	f.tracker.Upsert(nodePool("p", true, 1, leader("n1", "10.0.0.1")))
	f.putNode(node("n1", "p", true, "10.0.0.1"))
	if f.notes["p"] != 0 || f.gauge(f.tracker.metrics.stale) != 0 {
		t.Fatal("judged before Start")
	}
	f.tracker.Start()
	if v := f.verdict("p"); v.Valid != 1 || v.NeedsLeaders() {
		t.Errorf("after Start: %+v", v)
	}
}
