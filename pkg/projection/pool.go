package projection

import (
	"iter"
	"strings"
	"unique"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Options are the server-wide inputs of every form.
type Options struct {
	// Namespace is where every projected object lives.
	Namespace string
	// LeaderHubPort is the port leader YurtHubs serve on.
	LeaderHubPort int32
}

// Pool is the compact projection of one NodePool: exactly the inputs of
// every form, and nothing else. Stores keep a Pool per NodePool instead of
// any of the objects built from it, which are many times larger, so a Pool
// is laid out for size: its strings share one allocation, and it is 48
// bytes besides. A Pool is never modified once built; its zero value is a
// pool with no name.
type Pool struct {
	// text is the pool's name, its uid, then its valid leaders as
	// "node/ip,node/ip" (sorted, as Leaders returns them), back to back;
	// Leaders says why neither part of a leader holds "/" or ",".
	text            string
	nameEnd, uidEnd int32
	// created is the creationTimestamp in Unix seconds, the precision the
	// API serializes it in; hasCreated is false for a zero timestamp.
	created int64
	// metadata is the AnnotationPoolScopedMetadata value, interned: the
	// pools of a cluster usually share one list, so they share one copy of
	// it (and compare it by pointer).
	metadata                                            unique.Handle[string]
	interConnectivity, enableLeaderElection, hasCreated bool
}

// NamedPool is the Pool of a NodePool that has nothing published: only its
// name and uid are set.
func NamedPool(name string, uid types.UID) Pool {
	return newPool(name, uid, nil)
}

// newPool packs name, uid and leaders into one string, in one allocation.
func newPool(name string, uid types.UID, leaders []Leader) Pool {
	size := len(name) + len(uid)
	for _, l := range leaders {
		size += len(l.NodeName) + len(l.IP) + 2 // "/" and ","
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString(name)
	b.WriteString(string(uid))
	for i, l := range leaders {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.NodeName)
		b.WriteByte('/')
		b.WriteString(l.IP)
	}
	return Pool{text: b.String(), nameEnd: int32(len(name)), uidEnd: int32(len(name) + len(uid))}
}

// Equal reports whether two Pools publish the same thing.
func (p *Pool) Equal(q *Pool) bool {
	return *p == *q
}

// Name is the NodePool's name.
func (p *Pool) Name() string { return p.text[:p.nameEnd] }

// UID is the NodePool's uid.
func (p *Pool) UID() types.UID { return types.UID(p.text[p.nameEnd:p.uidEnd]) }

// CreationTimestamp is the NodePool's, to the second.
func (p *Pool) CreationTimestamp() metav1.Time {
	if !p.hasCreated {
		return metav1.Time{}
	}
	return metav1.Unix(p.created, 0)
}

// LeadersString is the valid leaders as "node/ip,node/ip", sorted as Leaders
// returns them: the form of kubectl's LEADERS column.
func (p *Pool) LeadersString() string { return p.text[p.uidEnd:] }

// Leaders yields the valid leaders, sorted as Leaders returns them.
func (p *Pool) Leaders() iter.Seq[Leader] {
	return func(yield func(Leader) bool) {
		if p.LeadersString() == "" {
			return
		}
		for pair := range strings.SplitSeq(p.LeadersString(), ",") {
			node, ip, _ := strings.Cut(pair, "/")
			if !yield(Leader{NodeName: node, IP: ip}) {
				return
			}
		}
	}
}

// LeaderElection reports spec.enableLeaderElection: whether the pool's
// YurtHubs use leaders at all.
func (p *Pool) LeaderElection() bool { return p.enableLeaderElection }

// LeaderCount is how many valid leaders the pool has.
func (p *Pool) LeaderCount() int {
	if p.LeadersString() == "" {
		return 0
	}
	return strings.Count(p.LeadersString(), ",") + 1
}

// PoolScopedMetadata is the AnnotationPoolScopedMetadata value; "" when
// the pool has none.
func (p *Pool) PoolScopedMetadata() string {
	if p.metadata == (unique.Handle[string]{}) {
		return ""
	}
	return p.metadata.Value()
}
