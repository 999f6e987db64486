package election

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

// Pool is what the election reads of one NodePool: its election settings
// and what its status publishes. The tracker keeps it packed (packedPool)
// and gives every reader a Pool of its own.
type Pool struct {
	Name            string
	UID             types.UID
	ResourceVersion string
	Enabled         bool
	Strategy        appsv1beta2.LeaderElectionStrategy
	// Wanted is spec.leaderReplicas, 1 when unset (as upstream's webhook
	// defaults it).
	Wanted   int
	Selector map[string]string
	// Leaders are status.leaderEndpoints, in the order they were written.
	Leaders     []appsv1beta2.Leader
	LastElected metav1.Time
	Conditions  []appsv1beta2.NodePoolCondition
	// SpecChangedAt is when the NodePool was last written other than
	// through its status (its managedFields), or created.
	SpecChangedAt time.Time
}

// PoolOf reads a NodePool.
func PoolOf(np *appsv1beta2.NodePool) *Pool {
	wanted := int(np.Spec.LeaderReplicas)
	if wanted <= 0 {
		wanted = 1
	}
	strategy := appsv1beta2.LeaderElectionStrategy(np.Spec.LeaderElectionStrategy)
	if strategy == "" {
		strategy = appsv1beta2.ElectionStrategyRandom // upstream's webhook default
	}
	return &Pool{
		Name: np.Name, UID: np.UID, ResourceVersion: np.ResourceVersion,
		Enabled: np.Spec.EnableLeaderElection, Strategy: strategy, Wanted: wanted,
		Selector: np.Spec.LeaderNodeLabelSelector, Leaders: np.Status.LeaderEndpoints,
		LastElected: np.Status.LeaderLastElectedTime, Conditions: np.Status.Conditions,
		SpecChangedAt: specChangedAt(np),
	}
}

// specChangedAt is the latest time a field manager wrote the NodePool
// other than through a subresource, or its creation time.
func specChangedAt(np *appsv1beta2.NodePool) time.Time {
	at := np.CreationTimestamp.Time
	for _, f := range np.ManagedFields {
		if f.Subresource == "" && f.Time != nil && f.Time.After(at) {
			at = f.Time.Time
		}
	}
	return at
}

// Condition returns the pool's condition of type t, or nil.
func (p *Pool) Condition(t appsv1beta2.NodePoolConditionType) *appsv1beta2.NodePoolCondition {
	for i := range p.Conditions {
		if p.Conditions[i].Type == t {
			return &p.Conditions[i]
		}
	}
	return nil
}

// Candidate reports whether a Node may lead the pool: it is in the pool,
// Ready, has an InternalIP and, with the mark strategy, matches the
// selector; an empty selector matches no Node.
func (p *Pool) Candidate(n *Node) bool {
	if n.Pool != p.Name || !n.Ready || len(n.InternalIPs) == 0 {
		return false
	}
	if p.Strategy != appsv1beta2.ElectionStrategyMark {
		return true
	}
	if len(p.Selector) == 0 || n.Labels == nil {
		return false
	}
	for k, v := range p.Selector {
		if w, ok := n.Labels.Lookup(k); !ok || w != v {
			return false
		}
	}
	return true
}

// ValidLeader reports whether a published leader is valid: its Node exists,
// is in the pool, is Ready, and has that InternalIP.
func (p *Pool) ValidLeader(l appsv1beta2.Leader, n *Node) bool {
	return n != nil && n.Pool == p.Name && n.Ready && n.HasIP(l.Address)
}
