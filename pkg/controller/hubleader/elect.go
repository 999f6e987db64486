package hubleader

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/election"
)

// Reasons of the LeaderReady condition.
const (
	ReasonLeadersElected         = "LeadersElected"
	ReasonInsufficientCandidates = "InsufficientCandidates"
	ReasonNoCandidates           = "NoCandidates"
	ReasonElectionDisabled       = "ElectionDisabled"
	// ReasonPoolUnreachable: the pool lost its cloud link (at least
	// --pool-disruption-threshold of its Nodes NotReady, or its leaders kept
	// through --pool-recovery-grace-period after that); LeaderReady is
	// Unknown, and its leaders are kept.
	ReasonPoolUnreachable = "PoolUnreachable"
)

// Event reasons, on the NodePool.
const (
	EventLeaderElected  = "LeaderElected"
	EventLeaderReplaced = "LeaderReplaced"
	EventNoCandidates   = "NoCandidates"
	// EventPoolUnreachable starts a pool's outage, EventPoolReachable ends it.
	EventPoolUnreachable = "PoolUnreachable"
	EventPoolReachable   = "PoolReachable"
)

// Outcome is what an election decides for one pool.
type Outcome struct {
	// Leaders are the pool's leaders in the order they were chosen: kept
	// ones first, in their published order, then new ones.
	Leaders []appsv1beta2.Leader
	// Added are the newly chosen leaders' node names; Removed the node
	// names of published leaders that are no longer leaders.
	Added, Removed []string
	// Condition is the LeaderReady condition, without its time.
	Condition appsv1beta2.NodePoolCondition
	// RecheckAfter, when positive, is when a leader kept through its grace
	// period must be judged again.
	RecheckAfter time.Duration
	// NoSelector is set for the mark strategy without a selector.
	NoSelector bool
	// Outage is the pool's outage as judged from its Nodes.
	Outage election.Outage
}

// Inputs are what an election reads besides the pool.
type Inputs struct {
	// Node looks a Node up by name; nil when there is none.
	Node func(name string) *election.Node
	// Members are the Nodes labeled into the pool.
	Members []election.Node
	Now     time.Time
	// Grace is how long a leader whose Node is not Ready keeps its slot.
	Grace time.Duration
	// Policy is how a pool that lost its cloud link is treated.
	Policy election.Policy
}

// Elect decides a pool's leaders. It keeps every published leader whose
// Node can still lead (refreshing its address if its InternalIP changed),
// one whose Node went NotReady less than Grace ago, and, while the pool is
// disrupted and through its recovery grace period, one whose Node is
// NotReady; it removes extra leaders, NotReady ones first, then the last
// chosen; it fills empty slots with the candidates of highest rendezvous
// score.
func Elect(p *election.Pool, in Inputs) Outcome {
	if !p.Enabled {
		return Outcome{
			Removed: leaderNames(p.Leaders),
			Condition: condition(corev1.ConditionFalse, ReasonElectionDisabled,
				"leader election is off (spec.enableLeaderElection)"),
		}
	}
	out := Outcome{Outage: in.Policy.Outage(in.Members)}
	kept := map[string]bool{}
	held := 0
	for _, l := range p.Leaders {
		if kept[l.NodeName] {
			continue
		}
		n := in.Node(l.NodeName)
		switch {
		case n != nil && p.Candidate(n):
			out.Leaders = append(out.Leaders, appsv1beta2.Leader{NodeName: n.Name, Address: addressOf(n, l)})
		case n != nil && inGrace(p, n, l, in):
			out.Leaders = append(out.Leaders, l)
			out.recheckIn(in.Grace - in.Now.Sub(n.ReadySince))
		case n != nil && keepable(p, n) && out.Outage.Holds(n, in.Now):
			out.Leaders = append(out.Leaders, appsv1beta2.Leader{NodeName: n.Name, Address: addressOf(n, l)})
			held++
			if !out.Outage.Disrupted {
				out.recheckIn(out.Outage.HoldUntil.Sub(in.Now))
			}
		default:
			out.Removed = append(out.Removed, l.NodeName)
			continue
		}
		kept[l.NodeName] = true
	}
	if len(out.Leaders) > p.Wanted {
		out.Leaders = dropExtra(p, out.Leaders, in, &out)
	}
	if short := p.Wanted - len(out.Leaders); short > 0 {
		var candidates []scored
		for i := range in.Members {
			n := &in.Members[i]
			if !kept[n.Name] && p.Candidate(n) {
				candidates = append(candidates, scored{node: n, score: Score(p.UID, n.Name)})
			}
		}
		slices.SortFunc(candidates, func(a, b scored) int {
			return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.node.Name, b.node.Name))
		})
		for _, c := range candidates[:min(short, len(candidates))] {
			out.Leaders = append(out.Leaders, appsv1beta2.Leader{NodeName: c.node.Name, Address: c.node.InternalIPs[0]})
			out.Added = append(out.Added, c.node.Name)
		}
	}
	out.NoSelector = p.Strategy == appsv1beta2.ElectionStrategyMark && len(p.Selector) == 0
	switch n := len(out.Leaders); {
	case out.Outage.Disrupted:
		// The message names no count, so that more Nodes going NotReady
		// write nothing.
		out.Condition = condition(corev1.ConditionUnknown, ReasonPoolUnreachable, fmt.Sprintf(
			"at least %g of the pool's Nodes are NotReady: it has likely lost its cloud link; its leaders are kept",
			in.Policy.DisruptionThreshold))
	case held > 0:
		out.Condition = condition(corev1.ConditionUnknown, ReasonPoolUnreachable, fmt.Sprintf(
			"the pool recovered from an outage at %s; leaders whose Node is still NotReady are kept until %s",
			out.Outage.RecoveredAt.UTC().Format(time.RFC3339), out.Outage.HoldUntil.UTC().Format(time.RFC3339)))
	case n == p.Wanted:
		out.Condition = condition(corev1.ConditionTrue, ReasonLeadersElected, fmt.Sprintf("%d of %d leaders elected", n, p.Wanted))
	case n == 0:
		out.Condition = condition(corev1.ConditionFalse, ReasonNoCandidates, noCandidatesMessage(p))
	default:
		out.Condition = condition(corev1.ConditionFalse, ReasonInsufficientCandidates,
			fmt.Sprintf("%d of %d leaders elected: no other Node of the pool can lead", n, p.Wanted))
	}
	return out
}

func (out *Outcome) recheckIn(d time.Duration) {
	if out.RecheckAfter == 0 || d < out.RecheckAfter {
		out.RecheckAfter = d
	}
}

// keepable reports whether a leader whose Node is NotReady may be kept
// through an outage: it is still in the pool, with an InternalIP.
func keepable(p *election.Pool, n *election.Node) bool {
	return !n.Ready && n.Pool == p.Name && len(n.InternalIPs) > 0
}

// addressOf is a kept leader's address: the published one while it is
// still one of the Node's InternalIPs, else the Node's first.
func addressOf(n *election.Node, l appsv1beta2.Leader) string {
	if n.HasIP(l.Address) {
		return l.Address
	}
	return n.InternalIPs[0]
}

// dropExtra cuts kept leaders down to the pool's leaderReplicas: those
// whose Node is NotReady go first, then the last chosen; the others keep
// their order.
func dropExtra(p *election.Pool, leaders []appsv1beta2.Leader, in Inputs, out *Outcome) []appsv1beta2.Leader {
	drop := map[string]bool{}
	extra := len(leaders) - p.Wanted
	for _, ready := range []bool{false, true} {
		for i := len(leaders) - 1; i >= 0 && len(drop) < extra; i-- {
			if n := in.Node(leaders[i].NodeName); n != nil && n.Ready == ready {
				drop[leaders[i].NodeName] = true
			}
		}
	}
	kept := make([]appsv1beta2.Leader, 0, p.Wanted)
	for _, l := range leaders {
		if drop[l.NodeName] {
			out.Removed = append(out.Removed, l.NodeName)
		} else {
			kept = append(kept, l)
		}
	}
	return kept
}

// inGrace reports whether a leader whose Node is in the pool but not Ready
// keeps its slot for now: it went NotReady less than Grace ago and still has
// the published address.
func inGrace(p *election.Pool, n *election.Node, l appsv1beta2.Leader, in Inputs) bool {
	if in.Grace <= 0 || n.Ready || n.Pool != p.Name || !n.HasIP(l.Address) {
		return false
	}
	return in.Now.Sub(n.ReadySince) < in.Grace
}

func noCandidatesMessage(p *election.Pool) string {
	if p.Strategy == appsv1beta2.ElectionStrategyMark {
		if len(p.Selector) == 0 {
			return "strategy mark without leaderNodeLabelSelector: no Node can lead"
		}
		return "no Ready Node of the pool with an InternalIP matches leaderNodeLabelSelector"
	}
	return "no Ready Node of the pool has an InternalIP"
}

type scored struct {
	node  *election.Node
	score uint64
}

// Score is a Node's rendezvous score for a pool: the first 8 bytes of
// SHA-256 over the pool's uid, a NUL and the node name. The highest scores
// lead; the score depends on nothing else, so every replica and every
// restart ranks the candidates alike, and a Node's arrival or departure
// moves only its own rank.
func Score(pool types.UID, node string) uint64 {
	h := sha256.New()
	h.Write([]byte(pool))
	h.Write([]byte{0})
	h.Write([]byte(node))
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0]))
}

func condition(status corev1.ConditionStatus, reason, message string) appsv1beta2.NodePoolCondition {
	return appsv1beta2.NodePoolCondition{Type: appsv1beta2.LeaderStatus, Status: status, Reason: reason, Message: message}
}

func leaderNames(leaders []appsv1beta2.Leader) []string {
	names := make([]string, 0, len(leaders))
	for _, l := range leaders {
		names = append(names, l.NodeName)
	}
	return names
}
