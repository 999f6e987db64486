package election

import (
	"cmp"
	"slices"
	"time"
)

// DefaultDisruptionThreshold is the share of a pool's Nodes that must be
// NotReady for the pool to count as disrupted: the node lifecycle
// controller's --unhealthy-zone-threshold.
const DefaultDisruptionThreshold = 0.55

// DefaultRecoveryGrace is how long, once a pool is no longer disrupted, a
// leader kept through the outage has to report Ready again. A Node behind
// YurtHub reports Ready again about 30 s after its link returns: YurtHub
// trusts the cloud after two healthy heartbeats (10 s apart), and the
// kubelet posts its status every 10 s. Twice that covers a pool whose Nodes
// come back over a few heartbeats.
const DefaultRecoveryGrace = time.Minute

// Policy is how the election treats a pool that loses its cloud link: while
// at least DisruptionThreshold of its Nodes are NotReady the pool is
// disrupted, and its published leaders keep their slots whatever their
// Ready condition says; once it is not, a kept leader that is still NotReady
// has RecoveryGrace to come back.
type Policy struct {
	DisruptionThreshold float64
	RecoveryGrace       time.Duration
}

// DefaultPolicy is the Policy of the flags' defaults.
var DefaultPolicy = Policy{DisruptionThreshold: DefaultDisruptionThreshold, RecoveryGrace: DefaultRecoveryGrace}

// Outage is how a pool stands against a loss of its cloud link, judged only
// from its Nodes' Ready conditions, so every replica and every restart
// judges alike.
type Outage struct {
	// Nodes counts the pool's Nodes, NotReady those that are not Ready.
	Nodes, NotReady int
	// Disrupted: at least the threshold's share of the Nodes are NotReady.
	Disrupted bool
	// RecoveredAt, for a pool that is not disrupted, is when it stopped
	// being: the Ready transition of the Node whose return brought the
	// NotReady share under the threshold. Zero when the Nodes' transition
	// times show no disruption.
	RecoveredAt time.Time
	// HoldUntil is RecoveredAt plus the recovery grace period.
	HoldUntil time.Time
}

// Outage judges a pool's Nodes. A pool without Nodes is not disrupted, nor
// is any under the zero Policy.
func (pol Policy) Outage(members []Node) Outage {
	o := Outage{Nodes: len(members)}
	for i := range members {
		if !members[i].Ready {
			o.NotReady++
		}
	}
	if o.Nodes == 0 {
		return o
	}
	if o.Disrupted = pol.disrupted(o.NotReady, o.Nodes); o.Disrupted || o.NotReady == 0 {
		// With every Node Ready no leader can be held, so when the pool
		// recovered does not matter.
		return o
	}
	// Undo the most recent returns to Ready, newest first, until the pool
	// would be disrupted: the return that ended the disruption is the last
	// one undone.
	since := make([]time.Time, 0, o.Nodes-o.NotReady)
	for i := range members {
		if members[i].Ready {
			since = append(since, members[i].ReadySince)
		}
	}
	slices.SortFunc(since, func(a, b time.Time) int { return cmp.Compare(b.UnixNano(), a.UnixNano()) })
	notReady := o.NotReady
	for _, t := range since {
		notReady++
		if pol.disrupted(notReady, o.Nodes) {
			o.RecoveredAt, o.HoldUntil = t, t.Add(pol.RecoveryGrace)
			break
		}
	}
	return o
}

// disrupted: the zero Policy judges no pool disrupted.
func (pol Policy) disrupted(notReady, nodes int) bool {
	return pol.DisruptionThreshold > 0 && float64(notReady) >= pol.DisruptionThreshold*float64(nodes)
}

// Holds reports whether a published leader whose Node is in the pool but
// NotReady keeps its slot because of the pool's outage: while the pool is
// disrupted, and after, until HoldUntil, if it went NotReady before the pool
// recovered.
func (o Outage) Holds(n *Node, now time.Time) bool {
	if n.Ready {
		return false
	}
	if o.Disrupted {
		return true
	}
	return !o.RecoveredAt.IsZero() && !n.ReadySince.After(o.RecoveredAt) && now.Before(o.HoldUntil)
}

// HeldSince is when the election for a leader held through the outage
// starts if it does not come back: when its hold ends. Zero for a leader
// that went NotReady after the pool recovered.
func (o Outage) HeldSince(n *Node) time.Time {
	if o.RecoveredAt.IsZero() || n.ReadySince.After(o.RecoveredAt) {
		return time.Time{}
	}
	return o.HoldUntil
}
