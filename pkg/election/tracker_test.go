package election

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/testutil"
	clocktesting "k8s.io/utils/clock/testing"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/feed"
	"github.com/leaderhub/leaderhub/test/fixtures"
)

// start is when every fixture's clock starts.
var start = time.Unix(1_700_000_000, 0)

func node(name, pool string, ready bool, ips ...string) *corev1.Node {
	return fixtures.Node(name, pool, ready, ips...)
}

func nodePool(name string, enabled bool, replicas int32, leaders ...appsv1beta2.Leader) *appsv1beta2.NodePool {
	np := fixtures.NodePool(name, fixtures.WithResourceVersion(10), fixtures.WithLeaders(leaders...))
	np.Spec.EnableLeaderElection, np.Spec.LeaderReplicas = enabled, replicas
	np.CreationTimestamp = metav1.NewTime(start) // when the fixture's clock starts
	return np
}

// trackerFixture is a tracker over a real Node cache, a fake clock and a
// registry of its own.
type trackerFixture struct {
	t       *testing.T
	nodes   *feed.Nodes
	clock   *clocktesting.FakeClock
	tracker *Tracker
	notes   map[string]int
}

func newFixture(t *testing.T, nodes ...*corev1.Node) *trackerFixture {
	f := &trackerFixture{t: t, nodes: feed.NewNodeCache(),
		clock: clocktesting.NewFakeClock(start), notes: map[string]int{}}
	for _, n := range nodes {
		f.putNode(n)
	}
	f.tracker = NewTracker(f.nodes, Options{Deadline: time.Minute, Clock: f.clock})
	f.tracker.RegisterMetrics(metrics.NewKubeRegistry())
	f.nodes.AddHandler(f.tracker.NodeHandler())
	f.tracker.AddListener(func(pool string) { f.notes[pool]++ })
	return f
}

// putNode writes a Node as its kubelet would at the fixture's time: its
// Ready condition's transition time is when its status last changed.
func (f *trackerFixture) putNode(n *corev1.Node) {
	f.t.Helper()
	n = n.DeepCopy()
	since := metav1.NewTime(f.clock.Now().Add(-time.Hour))
	if old, exists := f.nodes.Get(n.Name); exists {
		since = metav1.NewTime(f.clock.Now())
		if ready := n.Status.Conditions[0].Status == corev1.ConditionTrue; ready == old.Ready() {
			since = metav1.NewTime(old.ReadySince())
		}
	}
	n.Status.Conditions[0].LastTransitionTime = since
	if err := f.nodes.Update(n); err != nil {
		f.t.Fatal(err)
	}
}

// step moves the fixture's clock on and waits for what the trackers (this
// fixture's and others over the same clock) do when their timers fire.
func (f *trackerFixture) step(d time.Duration, others ...*trackerFixture) {
	f.clock.Step(d)
	for _, o := range append(others, f) {
		o.tracker.waking.Wait()
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
	// n4 and n5 cannot lead (no InternalIP), but keep the pool reachable
	// when n1 goes NotReady too.
	f := newFixture(t, node("n1", "p", true, "10.0.0.1"), node("n2", "p", true, "10.0.0.2"), node("n3", "p", false, "10.0.0.3"),
		node("n4", "p", true), node("n5", "p", true))
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
	f.step(3 * time.Second)
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
	f.step(59 * time.Second)
	if f.counter(resultFailed) != 0 {
		t.Fatal("failed before the deadline")
	}
	f.step(2 * time.Second)
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
	// pool it left is judged again, through the Node's old label).
	f.tracker.Upsert(nodePool("p", true, 1, leader("n2", "10.0.0.22")))
	f.putNode(node("n2", "q", true, "10.0.0.22"))
	if v := f.verdict("p"); v.Stale != 1 || v.Eligible != 0 {
		t.Errorf("leader moved out: %+v", v)
	}

	// Deleting the pool abandons its election: neither result is counted.
	succeeded, failed := f.counter(resultSucceeded), f.counter(resultFailed)
	f.tracker.Delete("p")
	f.step(2 * time.Minute)
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

// setReady writes a Node's Ready condition as of the fixture's time.
func (f *trackerFixture) setReady(name, pool string, ready bool, ip string) {
	f.putNode(node(name, pool, ready, ip))
}

// TestTrackerPoolOutage: a pool of 6 with 2 leaders loses every Node, then
// gets them back one by one, the leaders last. It is unreachable meanwhile,
// in no election, and nothing is counted. A leader that does not come back
// within the recovery grace period is then in an election that starts when
// the grace period ends.
func TestTrackerPoolOutage(t *testing.T) {
	f := newFixture(t)
	ip := func(i int) string { return fmt.Sprintf("10.0.0.%d", i) }
	for i := 1; i <= 6; i++ {
		f.setReady(fmt.Sprintf("n%d", i), "p", true, ip(i))
	}
	f.tracker.Replace([]*appsv1beta2.NodePool{nodePool("p", true, 2, leader("n2", ip(2)), leader("n4", ip(4)))})
	f.tracker.Start()
	counted := func() float64 {
		return f.counter(resultSucceeded) + f.counter(resultFailed) + f.counter(resultNoCandidates)
	}
	state := func(s State) float64 { return f.gauge(f.tracker.metrics.pools.WithLabelValues(string(s))) }
	if v := f.verdict("p"); v.State() != StateReady {
		t.Fatalf("before: %+v", v)
	}
	for i := 1; i <= 6; i++ {
		f.step(500 * time.Millisecond)
		f.setReady(fmt.Sprintf("n%d", i), "p", false, ip(i))
	}
	if v := f.verdict("p"); v.State() != StateUnreachable || v.NeedsLeaders() || v.Held != 2 || v.Stale != 0 {
		t.Errorf("cut off: %+v", v)
	}
	if state(StateUnreachable) != 1 || f.gauge(f.tracker.metrics.stale) != 0 || f.gauge(f.tracker.metrics.leaderlessElectable) != 0 {
		t.Errorf("gauges while cut off: unreachable %v stale %v leaderless electable %v", state(StateUnreachable),
			f.gauge(f.tracker.metrics.stale), f.gauge(f.tracker.metrics.leaderlessElectable))
	}
	f.step(5 * time.Minute)
	for _, i := range []int{1, 3, 5, 6, 2, 4} {
		f.step(5 * time.Second)
		f.setReady(fmt.Sprintf("n%d", i), "p", true, ip(i))
		if v := f.verdict("p"); v.NeedsLeaders() {
			t.Errorf("n%d back: in an election: %+v", i, v)
		}
	}
	if v := f.verdict("p"); v.State() != StateReady || counted() != 0 || f.durations() != 0 {
		t.Errorf("after the outage: %+v, %v elections counted, %d durations", v, counted(), f.durations())
	}

	// Again, but n4 stays NotReady: held for the recovery grace period
	// after the pool recovered (n5's return), then in an election.
	for i := 1; i <= 6; i++ {
		f.setReady(fmt.Sprintf("n%d", i), "p", false, ip(i))
	}
	f.step(time.Minute)
	for _, i := range []int{1, 3, 5, 6, 2} {
		f.step(time.Second)
		f.setReady(fmt.Sprintf("n%d", i), "p", true, ip(i))
	}
	if v := f.verdict("p"); v.State() != StateUnreachable || v.Held != 1 {
		t.Fatalf("recovering: %+v", v)
	}
	f.step(DefaultRecoveryGrace - 2*time.Second - time.Millisecond) // n5 came back 2s ago
	if v := f.verdict("p"); v.State() != StateUnreachable {
		t.Fatalf("judged again before the recovery grace period ended: %+v", v)
	}
	// The tracker judges the pool again on a timer of its own.
	f.step(time.Millisecond)
	if v := f.verdict("p"); v.State() != StateDegraded || v.Stale != 1 || !v.NeedsLeaders() {
		t.Fatalf("after the recovery grace period: %+v", v)
	}
	f.step(2 * time.Second)
	f.tracker.Upsert(nodePool("p", true, 2, leader("n2", ip(2)), leader("n1", ip(1))))
	if f.counter(resultSucceeded) != 1 || f.durations() != 1 {
		t.Fatalf("replacement after the grace period: succeeded %v, %d durations", f.counter(resultSucceeded), f.durations())
	}
	if sum := f.durationSum(); sum != 2 {
		t.Errorf("the election took %vs, want 2s: it starts when the grace period ends", sum)
	}

	// Cut off again while an election is open: it is abandoned.
	f.setReady("n1", "p", false, ip(1))
	for _, i := range []int{2, 3, 5} {
		f.setReady(fmt.Sprintf("n%d", i), "p", false, ip(i))
	}
	f.step(10 * time.Minute)
	if counted() != 1 {
		t.Errorf("an election open when the pool was cut off was counted: %v elections", counted())
	}
}

func (f *trackerFixture) durationSum() float64 {
	f.t.Helper()
	m, err := testutil.GetHistogramMetricValue(f.tracker.metrics.duration.ObserverMetric)
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// TestTrackerSingleNodePool: a pool of one whose Node goes NotReady is cut
// off, not in an election.
func TestTrackerSingleNodePool(t *testing.T) {
	f := newFixture(t, node("n1", "p", true, "10.0.0.1"))
	f.tracker.Replace([]*appsv1beta2.NodePool{nodePool("p", true, 1, leader("n1", "10.0.0.1"))})
	f.tracker.Start()
	f.setReady("n1", "p", false, "10.0.0.1")
	f.step(time.Hour)
	if v := f.verdict("p"); v.State() != StateUnreachable || f.counter(resultFailed) != 0 {
		t.Errorf("single-node pool: %+v, failed %v", v, f.counter(resultFailed))
	}
}

// TestTrackerNoCandidates: an election that ends with no leader because no
// Node can lead is counted as no_candidates, not as a success.
func TestTrackerNoCandidates(t *testing.T) {
	// The mark strategy: only n1 may lead; the others keep the pool
	// reachable when it goes NotReady.
	f := newFixture(t, fixtures.WithLabels(node("n1", "p", true, "10.0.0.1"), map[string]string{"lead": "yes"}),
		node("n2", "p", true, "10.0.0.2"), node("n3", "p", true, "10.0.0.3"))
	np := nodePool("p", true, 1, leader("n1", "10.0.0.1"))
	np.Spec.LeaderElectionStrategy, np.Spec.LeaderNodeLabelSelector = string(appsv1beta2.ElectionStrategyMark), map[string]string{"lead": "yes"}
	f.tracker.Replace([]*appsv1beta2.NodePool{np})
	f.tracker.Start()
	f.putNode(fixtures.WithLabels(node("n1", "p", false, "10.0.0.1"), map[string]string{"lead": "yes"}))
	if v := f.verdict("p"); !v.NeedsLeaders() {
		t.Fatalf("stale leader: %+v", v)
	}
	f.step(time.Second)
	removed := np.DeepCopy()
	removed.Status.LeaderEndpoints = nil
	f.tracker.Upsert(removed)
	if s, n := f.counter(resultSucceeded), f.counter(resultNoCandidates); s != 0 || n != 1 || f.durations() != 0 {
		t.Errorf("ended without a leader: succeeded %v, no_candidates %v, %d durations", s, n, f.durations())
	}
}

// TestTrackerTimesFromTheAPI: two replicas, one started (or restarted)
// while an election is open, time it alike, from the API: they count the
// same election once each, with the same duration; and a replica started
// while nothing needs leaders opens none.
func TestTrackerTimesFromTheAPI(t *testing.T) {
	a := newFixture(t, node("n1", "p", true, "10.0.0.1"), node("n2", "p", true, "10.0.0.2"), node("n3", "p", true))
	a.tracker.Replace([]*appsv1beta2.NodePool{nodePool("p", true, 1, leader("n1", "10.0.0.1"))})
	a.tracker.Start()
	a.step(time.Minute)
	a.setReady("n1", "p", false, "10.0.0.1")
	a.step(20 * time.Second)

	// b starts now, over the same Nodes and pool, 20s into the election.
	b := &trackerFixture{t: t, nodes: a.nodes, clock: a.clock, notes: map[string]int{}}
	b.tracker = NewTracker(b.nodes, Options{Deadline: time.Minute, Clock: b.clock})
	b.tracker.RegisterMetrics(metrics.NewKubeRegistry())
	b.tracker.Replace([]*appsv1beta2.NodePool{nodePool("p", true, 1, leader("n1", "10.0.0.1"))})
	b.tracker.Start()
	a.step(30*time.Second, b)
	for _, f := range []*trackerFixture{a, b} {
		f.tracker.Upsert(nodePool("p", true, 1, leader("n2", "10.0.0.2")))
	}
	for name, f := range map[string]*trackerFixture{"first": a, "second": b} {
		if f.counter(resultSucceeded) != 1 || f.durations() != 1 || f.durationSum() != 50 {
			t.Errorf("%s replica: succeeded %v, %d durations of %vs; want 1, 1 of 50s", name, f.counter(resultSucceeded), f.durations(), f.durationSum())
		}
	}

	// A third replica started now opens no election.
	c := &trackerFixture{t: t, nodes: a.nodes, clock: a.clock, notes: map[string]int{}}
	c.tracker = NewTracker(c.nodes, Options{Deadline: time.Minute, Clock: c.clock})
	c.tracker.RegisterMetrics(metrics.NewKubeRegistry())
	c.tracker.Replace([]*appsv1beta2.NodePool{nodePool("p", true, 1, leader("n2", "10.0.0.2"))})
	c.tracker.Start()
	a.step(2*time.Minute, b, c)
	if got := c.counter(resultSucceeded) + c.counter(resultFailed) + c.counter(resultNoCandidates); got != 0 {
		t.Errorf("a replica started while the pool had its leaders counted %v elections", got)
	}
}

// TestTrackerPoolCreatedAgain: a pool deleted and created again under its
// name, seen only as a new uid (across a relist), does not inherit the old
// pool's open election.
func TestTrackerPoolCreatedAgain(t *testing.T) {
	f := newFixture(t, node("n1", "p", true, "10.0.0.1"))
	f.tracker.Replace([]*appsv1beta2.NodePool{nodePool("p", true, 1)})
	f.tracker.Start()
	f.step(50 * time.Second)
	again := nodePool("p", true, 1)
	again.UID, again.CreationTimestamp = "uid-p-again", metav1.NewTime(f.clock.Now())
	f.tracker.Replace([]*appsv1beta2.NodePool{again})
	f.step(20 * time.Second) // past the old pool's deadline, not the new one's
	if got := f.counter(resultFailed); got != 0 {
		t.Errorf("the old pool's election failed on the new pool: failed %v", got)
	}
	again = again.DeepCopy()
	again.Status.LeaderEndpoints = []appsv1beta2.Leader{leader("n1", "10.0.0.1")}
	f.tracker.Upsert(again)
	if f.counter(resultSucceeded) != 1 || f.durationSum() != 20 {
		t.Errorf("new pool's election: succeeded %v in %vs, want 1 in 20s", f.counter(resultSucceeded), f.durationSum())
	}
}

// TestTrackerMappedAddress: a leader published as an IPv4-mapped IPv6
// address is the Node's IPv4 address, as the view publishes it.
func TestTrackerMappedAddress(t *testing.T) {
	f := newFixture(t, node("n1", "p", true, "10.0.0.1"))
	f.tracker.Replace([]*appsv1beta2.NodePool{nodePool("p", true, 1, leader("n1", "::ffff:10.0.0.1"))})
	f.tracker.Start()
	if v := f.verdict("p"); v.Valid != 1 || v.Stale != 0 {
		t.Errorf("mapped address: %+v", v)
	}
}

// TestTrackerDeadlines: elections of several pools, opened at different
// times, each fail at their own deadline, on the one timer the tracker
// keeps, also when one step passes two; one that ended before its deadline
// is not failed; and one opened past its deadline (a replica started late)
// fails at once.
func TestTrackerDeadlines(t *testing.T) {
	f := newFixture(t, node("a1", "a", true, "10.0.0.1"), node("b1", "b", true, "10.0.0.2"),
		node("c1", "c", true, "10.0.0.3"), node("d1", "d", true, "10.0.0.4"))
	f.tracker.Start()
	createdAt := func(name string, at time.Time) *appsv1beta2.NodePool {
		np := nodePool(name, true, 1)
		np.CreationTimestamp = metav1.NewTime(at)
		return np
	}
	for _, name := range []string{"a", "b", "c"} {
		f.tracker.Upsert(createdAt(name, f.clock.Now()))
		f.step(10 * time.Second)
	}
	// Now start+30s: the deadlines are at +60s (a), +70s (b), +80s (c).
	b := createdAt("b", start.Add(10*time.Second))
	b.Status.LeaderEndpoints = []appsv1beta2.Leader{leader("b1", "10.0.0.2")}
	f.tracker.Upsert(b)
	f.step(29 * time.Second)
	if got := f.counter(resultFailed); got != 0 {
		t.Fatalf("failed before any deadline: %v", got)
	}
	f.step(25 * time.Second) // start+84s: past a's and c's
	if got, succeeded := f.counter(resultFailed), f.counter(resultSucceeded); got != 2 || succeeded != 1 {
		t.Fatalf("past two deadlines: failed %v, succeeded %v; want 2 and 1", got, succeeded)
	}
	f.tracker.Upsert(createdAt("d", f.clock.Now().Add(-2*time.Minute)))
	if got := f.counter(resultFailed); got != 3 {
		t.Errorf("an election opened past its deadline: failed %v, want 3", got)
	}
	f.step(time.Hour)
	if got := f.counter(resultFailed); got != 3 {
		t.Errorf("an election failed twice: failed %v, want 3", got)
	}
}
