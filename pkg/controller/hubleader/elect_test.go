package hubleader

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/election"
)

var now = time.Unix(1_700_000_000, 0)

func member(name string, ready bool, ips ...string) election.Node {
	return election.Node{Name: name, Pool: "p", Ready: ready, ReadySince: now.Add(-10 * time.Second), InternalIPs: ips,
		Labels: labels.Set{appsv1beta2.LabelNodePool: "p"}}
}

func marked(n election.Node) election.Node {
	n.Labels = labels.Set{appsv1beta2.LabelNodePool: "p", "leader": "yes"}
	return n
}

func inputs(members ...election.Node) Inputs {
	return Inputs{Members: members, Now: now, Node: func(name string) *election.Node {
		for i := range members {
			if members[i].Name == name {
				return &members[i]
			}
		}
		return nil
	}}
}

func pool(replicas int, leaders ...string) *election.Pool {
	p := &election.Pool{Name: "p", UID: "uid-p", Enabled: true, Strategy: appsv1beta2.ElectionStrategyRandom, Wanted: replicas}
	for _, l := range leaders {
		p.Leaders = append(p.Leaders, appsv1beta2.Leader{NodeName: l, Address: "10.0.0." + l[1:]})
	}
	return p
}

func names(leaders []appsv1beta2.Leader) []string {
	out := make([]string, len(leaders))
	for i, l := range leaders {
		out[i] = l.NodeName
	}
	return out
}

// ranked is the pool's candidates in rendezvous order.
func ranked(uid string, nodes ...string) []string {
	out := slices.Clone(nodes)
	slices.SortFunc(out, func(a, b string) int {
		sa, sb := Score(types.UID("uid-"+uid), a), Score(types.UID("uid-"+uid), b)
		if sa > sb {
			return -1
		}
		return 1
	})
	return out
}

func TestElect(t *testing.T) {
	five := []election.Node{member("n1", true, "10.0.0.1"), member("n2", true, "10.0.0.2"), member("n3", true, "10.0.0.3"),
		member("n4", true, "10.0.0.4"), member("n5", true, "10.0.0.5")}
	order := ranked("p", "n1", "n2", "n3", "n4", "n5")
	withDown := slices.Clone(five)
	withDown[0].Ready = false // n1 NotReady since 10s
	for _, tc := range []struct {
		name    string
		pool    *election.Pool
		in      Inputs
		leaders []string
		added   []string
		removed []string
		reason  string
	}{
		{name: "empty pool elects by rank", pool: pool(2), in: inputs(five...),
			leaders: order[:2], added: order[:2], reason: ReasonLeadersElected},
		{name: "valid leaders are kept whatever their rank", pool: pool(2, "n5", "n4"), in: inputs(five...),
			leaders: []string{"n5", "n4"}, reason: ReasonLeadersElected},
		{name: "raise 1 to 3 keeps the first", pool: pool(3, "n4"), in: inputs(five...),
			leaders: append([]string{"n4"}, without(order, "n4")[:2]...), added: without(order, "n4")[:2], reason: ReasonLeadersElected},
		{name: "lower 3 to 2 drops the last chosen", pool: pool(2, "n3", "n1", "n5"), in: inputs(five...),
			leaders: []string{"n3", "n1"}, removed: []string{"n5"}, reason: ReasonLeadersElected},
		{name: "NotReady leader replaced", pool: pool(1, "n1"), in: inputs(withDown...),
			leaders: without(order, "n1")[:1], added: without(order, "n1")[:1], removed: []string{"n1"}, reason: ReasonLeadersElected},
		{name: "NotReady leader kept in its grace period", pool: pool(1, "n1"),
			in:      func() Inputs { in := inputs(withDown...); in.Grace = time.Minute; return in }(),
			leaders: []string{"n1"}, reason: ReasonLeadersElected},
		{name: "NotReady leader replaced after its grace period", pool: pool(1, "n1"),
			in:      func() Inputs { in := inputs(withDown...); in.Grace = 5 * time.Second; return in }(),
			leaders: without(order, "n1")[:1], added: without(order, "n1")[:1], removed: []string{"n1"}, reason: ReasonLeadersElected},
		{name: "deleted leader replaced", pool: pool(1, "n9"), in: inputs(five...),
			leaders: order[:1], added: order[:1], removed: []string{"n9"}, reason: ReasonLeadersElected},
		{name: "too few candidates", pool: pool(3), in: inputs(member("n1", true, "10.0.0.1"), member("n2", false, "10.0.0.2")),
			leaders: []string{"n1"}, added: []string{"n1"}, reason: ReasonInsufficientCandidates},
		{name: "no InternalIP, no candidate", pool: pool(1), in: inputs(member("n1", true)),
			reason: ReasonNoCandidates},
		{name: "mark picks only matching Nodes",
			pool: func() *election.Pool {
				p := pool(2)
				p.Strategy, p.Selector = appsv1beta2.ElectionStrategyMark, map[string]string{"leader": "yes"}
				return p
			}(),
			in:      inputs(member("n1", true, "10.0.0.1"), marked(member("n2", true, "10.0.0.2")), member("n3", true, "10.0.0.3")),
			leaders: []string{"n2"}, added: []string{"n2"}, reason: ReasonInsufficientCandidates},
		{name: "mark without selector: nobody",
			pool: func() *election.Pool { p := pool(1); p.Strategy = appsv1beta2.ElectionStrategyMark; return p }(),
			in:   inputs(five...), reason: ReasonNoCandidates},
		{name: "lower 2 to 1 drops a NotReady leader in its grace period, not a Ready one", pool: pool(1, "n1", "n2"),
			in:      func() Inputs { in := inputs(withDown...); in.Grace = time.Minute; return in }(),
			leaders: []string{"n2"}, removed: []string{"n1"}, reason: ReasonLeadersElected},
		{name: "election off clears leaders", pool: func() *election.Pool { p := pool(1, "n1"); p.Enabled = false; return p }(),
			in: inputs(five...), removed: []string{"n1"}, reason: ReasonElectionDisabled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := Elect(tc.pool, tc.in)
			if got := names(out.Leaders); !slices.Equal(got, tc.leaders) && !(len(got) == 0 && len(tc.leaders) == 0) {
				t.Errorf("leaders %v, want %v", got, tc.leaders)
			}
			if !slices.Equal(out.Added, tc.added) || !slices.Equal(out.Removed, tc.removed) {
				t.Errorf("added %v removed %v, want %v %v", out.Added, out.Removed, tc.added, tc.removed)
			}
			if out.Condition.Reason != tc.reason || out.Condition.Type != appsv1beta2.LeaderStatus ||
				(out.Condition.Status == corev1.ConditionTrue) != (tc.reason == ReasonLeadersElected) {
				t.Errorf("condition %+v, want reason %s", out.Condition, tc.reason)
			}
		})
	}
}

func leadersOf(pairs ...string) []appsv1beta2.Leader {
	out := make([]appsv1beta2.Leader, 0, len(pairs))
	for _, pair := range pairs {
		name, addr, _ := strings.Cut(pair, "=")
		out = append(out, appsv1beta2.Leader{NodeName: name, Address: addr})
	}
	return out
}

// TestElectKeepsMappedAddress: a published IPv4-mapped address is the
// Node's IPv4 address, as the view publishes it; it is not rewritten.
func TestElectKeepsMappedAddress(t *testing.T) {
	p := pool(1)
	p.Leaders = leadersOf("n1=::ffff:10.0.0.1")
	out := Elect(p, inputs(member("n1", true, "10.0.0.1"), member("n2", true, "10.0.0.2")))
	if !slices.Equal(out.Leaders, p.Leaders) {
		t.Errorf("leaders %+v, want %+v unchanged", out.Leaders, p.Leaders)
	}
}

// TestElectThroughAnOutage: a pool of 6 with 2 leaders loses its cloud
// link (every Node NotReady), then comes back one Node at a time, the
// leaders last. Its leaders never change; LeaderReady is Unknown
// (PoolUnreachable) until they are back. A partial outage (2 of 6) that
// takes a leader replaces it at once.
func TestElectThroughAnOutage(t *testing.T) {
	policy := election.Policy{DisruptionThreshold: 0.55, RecoveryGrace: time.Minute}
	names6 := []string{"n1", "n2", "n3", "n4", "n5", "n6"}
	members := make([]election.Node, len(names6))
	for i, n := range names6 {
		members[i] = member(n, true, "10.0.0."+n[1:])
		members[i].ReadySince = now.Add(-time.Hour)
	}
	p := pool(2, "n2", "n4")
	at := now
	elect := func() Outcome {
		in := inputs(members...)
		in.Now, in.Policy = at, policy
		return Elect(p, in)
	}
	setReady := func(name string, ready bool) {
		for i := range members {
			if members[i].Name == name {
				members[i].Ready, members[i].ReadySince = ready, at
			}
		}
	}
	expect := func(step string, status corev1.ConditionStatus, reason string) Outcome {
		t.Helper()
		out := elect()
		if got := names(out.Leaders); !slices.Equal(got, []string{"n2", "n4"}) || len(out.Added)+len(out.Removed) > 0 {
			t.Errorf("%s: leaders %v (added %v, removed %v), want n2 n4 unchanged", step, got, out.Added, out.Removed)
		}
		if out.Condition.Status != status || out.Condition.Reason != reason {
			t.Errorf("%s: condition %s %s (%s), want %s %s", step, out.Condition.Status, out.Condition.Reason, out.Condition.Message, status, reason)
		}
		return out
	}
	// The link goes: every Node NotReady within a few seconds.
	for _, n := range names6 {
		at = at.Add(time.Second)
		setReady(n, false)
		if n == "n4" {
			// 4 of 6: disrupted, so n2 and n4 stay although NotReady.
			expect("4 of 6 NotReady", corev1.ConditionUnknown, ReasonPoolUnreachable)
		}
	}
	expect("every Node NotReady", corev1.ConditionUnknown, ReasonPoolUnreachable)
	// It comes back over 30 s, the leaders last.
	for _, n := range []string{"n1", "n3", "n5", "n6", "n2"} {
		at = at.Add(5 * time.Second)
		setReady(n, true)
		out := expect(n+" back", corev1.ConditionUnknown, ReasonPoolUnreachable)
		if n == "n5" {
			// 3 of 6 NotReady: no longer disrupted, so the recovery grace
			// period runs from now, and the elector is to look again then.
			if out.Outage.Disrupted || !out.Outage.RecoveredAt.Equal(at) || out.RecheckAfter != time.Minute {
				t.Errorf("recovered: %+v, recheck after %v", out.Outage, out.RecheckAfter)
			}
		}
	}
	at = at.Add(5 * time.Second)
	setReady("n4", true)
	expect("every Node back", corev1.ConditionTrue, ReasonLeadersElected)

	// Again, but n4 does not come back within the recovery grace period.
	for _, n := range names6 {
		setReady(n, false)
	}
	for _, n := range []string{"n1", "n2", "n3", "n5", "n6"} {
		at = at.Add(time.Second)
		setReady(n, true)
	}
	out := expect("n4 still NotReady in the grace period", corev1.ConditionUnknown, ReasonPoolUnreachable)
	at = at.Add(out.RecheckAfter)
	if out := elect(); !slices.Contains(out.Removed, "n4") || slices.Contains(names(out.Leaders), "n4") ||
		out.Condition.Reason != ReasonLeadersElected {
		t.Errorf("n4 not replaced after the recovery grace period: %+v", out)
	}

	// A partial outage: 2 of 6 NotReady, n4 among them, is a dead leader.
	for _, n := range names6 {
		setReady(n, true)
	}
	at = at.Add(time.Hour)
	setReady("n4", false)
	setReady("n5", false)
	if out := elect(); !slices.Equal(out.Removed, []string{"n4"}) || len(out.Added) != 1 || out.Outage.Disrupted {
		t.Errorf("partial outage: leaders %v, removed %v, added %v", names(out.Leaders), out.Removed, out.Added)
	}
}

// TestElectSingleNodePool: a pool of one whose Node goes NotReady is a pool
// cut off: its leader is kept, LeaderReady Unknown.
func TestElectSingleNodePool(t *testing.T) {
	in := inputs(member("n1", false, "10.0.0.1"))
	in.Policy = election.DefaultPolicy
	out := Elect(pool(1, "n1"), in)
	if !slices.Equal(names(out.Leaders), []string{"n1"}) || out.Condition.Reason != ReasonPoolUnreachable ||
		out.Condition.Status != corev1.ConditionUnknown {
		t.Errorf("single-node pool: leaders %v, condition %+v", names(out.Leaders), out.Condition)
	}
}

// TestElectRefreshesAddress: a leader whose InternalIP changed stays leader,
// with its new address.
func TestElectRefreshesAddress(t *testing.T) {
	out := Elect(pool(1, "n1"), inputs(member("n1", true, "10.9.9.9"), member("n2", true, "10.0.0.2")))
	if len(out.Leaders) != 1 || out.Leaders[0] != (appsv1beta2.Leader{NodeName: "n1", Address: "10.9.9.9"}) || len(out.Added) != 0 {
		t.Errorf("leaders %+v added %v", out.Leaders, out.Added)
	}
}

// TestElectGraceRecheck: a leader kept through its grace period asks to be
// judged again when the grace ends.
func TestElectGraceRecheck(t *testing.T) {
	in := inputs(member("n1", false, "10.0.0.1"), member("n2", true, "10.0.0.2"))
	in.Grace = 30 * time.Second
	if out := Elect(pool(1, "n1"), in); out.RecheckAfter != 20*time.Second {
		t.Errorf("recheck after %v, want 20s", out.RecheckAfter)
	}
}

// TestScoreStable: the ranking depends only on (pool uid, node name), so a
// Node joining moves no other Node's rank, and pools rank differently.
func TestScoreStable(t *testing.T) {
	var nodes []string
	for i := range 50 {
		nodes = append(nodes, fmt.Sprintf("node-%02d", i))
	}
	before := ranked("a", nodes...)
	after := ranked("a", append(slices.Clone(nodes), "node-new")...)
	if !slices.Equal(without(after, "node-new"), before) {
		t.Error("a new Node reordered the others")
	}
	if slices.Equal(before, ranked("b", nodes...)) {
		t.Error("two pools rank 50 Nodes identically")
	}
	// The first choice spreads over the Nodes across pools.
	first := map[string]int{}
	for i := range 1000 {
		first[ranked(fmt.Sprintf("pool-%d", i), nodes...)[0]]++
	}
	for n, c := range first {
		if c > 60 {
			t.Errorf("%s first in %d of 1000 pools; want about 20", n, c)
		}
	}
}

func without(s []string, x string) []string {
	return slices.DeleteFunc(slices.Clone(s), func(y string) bool { return y == x })
}

// TestElectOutageKeepsReaddressedLeader: a leader whose Node changed its
// InternalIP while its pool is cut off stays leader, with the new address;
// one whose Node left the pool does not.
func TestElectOutageKeepsReaddressedLeader(t *testing.T) {
	moved := member("n2", false, "10.0.0.2")
	moved.Pool = "elsewhere"
	in := inputs(member("n1", false, "10.9.9.1"), moved, member("n3", false, "10.0.0.3"))
	in.Policy = election.DefaultPolicy
	out := Elect(pool(2, "n1", "n2"), in)
	if !slices.Equal(out.Leaders, leadersOf("n1=10.9.9.1")) || !slices.Equal(out.Removed, []string{"n2"}) {
		t.Errorf("leaders %+v, removed %v; want n1 at its new address, n2 removed", out.Leaders, out.Removed)
	}
}
