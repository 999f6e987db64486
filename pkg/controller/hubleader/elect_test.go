package hubleader

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/election"
)

var now = time.Unix(1_700_000_000, 0)

func member(name string, ready bool, ips ...string) election.Node {
	return election.Node{Name: name, Pool: "p", Ready: ready, ReadySince: now.Add(-10 * time.Second), InternalIPs: ips,
		Labels: map[string]string{appsv1beta2.LabelNodePool: "p"}}
}

func marked(n election.Node) election.Node {
	n.Labels = map[string]string{appsv1beta2.LabelNodePool: "p", "leader": "yes"}
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
