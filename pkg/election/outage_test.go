package election

import (
	"testing"
	"time"
)

// TestOutage: when a pool counts as cut off, when it recovered, and which
// NotReady leaders are held.
func TestOutage(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	n := func(name string, ready bool, since int) Node {
		return Node{Name: name, Ready: ready, ReadySince: at(since)}
	}
	pol := Policy{DisruptionThreshold: 0.55, RecoveryGrace: time.Minute}
	for _, tc := range []struct {
		name        string
		members     []Node
		disrupted   bool
		recoveredAt int // seconds after t0; -1 for none
	}{
		{"no Nodes", nil, false, -1},
		{"all Ready", []Node{n("a", true, 0), n("b", true, 0)}, false, -1},
		{"one of one NotReady", []Node{n("a", false, 5)}, true, -1},
		{"one of two NotReady", []Node{n("a", false, 5), n("b", true, 0)}, false, 0},
		{"4 of 6 NotReady", []Node{n("a", false, 5), n("b", false, 5), n("c", false, 5), n("d", false, 5), n("e", true, 0), n("f", true, 0)}, true, -1},
		// 3 of 6 NotReady after c, then e came back: undoing e (3 → 4) is
		// disrupted, so the pool recovered when e came back.
		{"back under the threshold", []Node{n("a", false, 5), n("b", false, 5), n("c", true, 30), n("d", false, 5), n("e", true, 40), n("f", true, 20)}, false, 40},
	} {
		o := pol.Outage(tc.members)
		want := time.Time{}
		if tc.recoveredAt >= 0 {
			want = at(tc.recoveredAt)
		}
		if o.Disrupted != tc.disrupted || !o.RecoveredAt.Equal(want) {
			t.Errorf("%s: disrupted %t recovered at %v, want %t %v", tc.name, o.Disrupted, o.RecoveredAt, tc.disrupted, want)
		}
	}
	// Held: while disrupted; after, until the grace period ends, and only
	// leaders that went NotReady before the pool recovered.
	recovered := Outage{RecoveredAt: at(40), HoldUntil: at(100)}
	for _, tc := range []struct {
		name string
		o    Outage
		node Node
		now  int
		want bool
	}{
		{"Ready is not held", Outage{Disrupted: true}, n("a", true, 0), 50, false},
		{"disrupted", Outage{Disrupted: true}, n("a", false, 5), 5000, true},
		{"in the recovery grace period", recovered, n("a", false, 5), 99, true},
		{"after the recovery grace period", recovered, n("a", false, 5), 100, false},
		{"NotReady after the recovery", recovered, n("a", false, 41), 50, false},
		{"zero Policy", Policy{}.Outage([]Node{n("a", false, 5)}), n("a", false, 5), 6, false},
	} {
		if got := tc.o.Holds(&tc.node, at(tc.now)); got != tc.want {
			t.Errorf("%s: held %t, want %t", tc.name, got, tc.want)
		}
	}
}
