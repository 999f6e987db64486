package election

import (
	"encoding/binary"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

// packedPool is a Pool as the tracker keeps it, one per NodePool: the
// numbers in fields, and the uid, strategy, selector, leaders and conditions
// in one string of length-prefixed fields, followed by the resourceVersion,
// so a pool costs one allocation instead of the NodePool's slices, map and
// their strings. Unpacking gives back the Pool exactly, every condition's
// text included, since the elector writes the conditions back.
type packedPool struct {
	text          string
	lastElected   int64
	specChangedAt int64
	wanted        int32
	// rvAt is where the resourceVersion starts in text.
	rvAt    uint32
	enabled bool
}

func packPool(p *Pool) packedPool {
	var b packer
	b.str(string(p.UID))
	b.str(string(p.Strategy))
	keys := slices.Sorted(maps.Keys(p.Selector))
	b.uvarint(uint64(len(keys)))
	for _, k := range keys {
		b.str(k)
		b.str(p.Selector[k])
	}
	b.uvarint(uint64(len(p.Leaders)))
	for _, l := range p.Leaders {
		b.str(l.NodeName)
		b.str(l.Address)
	}
	b.uvarint(uint64(len(p.Conditions)))
	for _, c := range p.Conditions {
		b.str(string(c.Type))
		b.str(string(c.Status))
		b.str(c.Reason)
		b.str(c.Message)
		b.time(c.LastTransitionTime.Time)
	}
	rvAt := len(b)
	b = append(b, p.ResourceVersion...)
	return packedPool{text: string(b), rvAt: uint32(rvAt), wanted: int32(p.Wanted), enabled: p.Enabled,
		lastElected: unixNano(p.LastElected.Time), specChangedAt: unixNano(p.SpecChangedAt)}
}

// unpack gives back the Pool named name. Its strings share the packed
// text; the Pool is the caller's.
func (pp *packedPool) unpack(name string) *Pool {
	u := unpacker(pp.text[:pp.rvAt])
	p := &Pool{Name: name, ResourceVersion: pp.text[pp.rvAt:], Enabled: pp.enabled, Wanted: int(pp.wanted),
		LastElected: metav1.Time{Time: fromUnixNano(pp.lastElected)}, SpecChangedAt: fromUnixNano(pp.specChangedAt)}
	p.UID = types.UID(u.str())
	p.Strategy = appsv1beta2.LeaderElectionStrategy(u.str())
	switch p.Strategy { // the constants, not the packed text's copies
	case appsv1beta2.ElectionStrategyRandom:
		p.Strategy = appsv1beta2.ElectionStrategyRandom
	case appsv1beta2.ElectionStrategyMark:
		p.Strategy = appsv1beta2.ElectionStrategyMark
	}
	if n := u.uvarint(); n > 0 {
		p.Selector = make(map[string]string, n)
		for range n {
			k := u.str()
			p.Selector[k] = u.str()
		}
	}
	if n := u.uvarint(); n > 0 {
		p.Leaders = make([]appsv1beta2.Leader, n)
		for i := range p.Leaders {
			p.Leaders[i] = appsv1beta2.Leader{NodeName: u.str(), Address: u.str()}
		}
	}
	if n := u.uvarint(); n > 0 {
		p.Conditions = make([]appsv1beta2.NodePoolCondition, n)
		for i := range p.Conditions {
			p.Conditions[i] = appsv1beta2.NodePoolCondition{Type: appsv1beta2.NodePoolConditionType(u.str()),
				Status: corev1.ConditionStatus(u.str()), Reason: u.str(), Message: u.str(),
				LastTransitionTime: metav1.Time{Time: u.time()}}
		}
	}
	return p
}

// uid is the packed pool's uid.
func (pp *packedPool) uid() types.UID {
	u := unpacker(pp.text)
	return types.UID(u.str())
}

// same reports whether two packed readings of a NodePool are the same but
// for the resourceVersion and the times outside the conditions.
func (pp *packedPool) same(q *packedPool) bool {
	return pp.enabled == q.enabled && pp.wanted == q.wanted && pp.text[:pp.rvAt] == q.text[:q.rvAt]
}

// leadersText is the part of text that holds the leaders: equal exactly
// when the leader lists are.
func (pp *packedPool) leadersText() string {
	u := unpacker(pp.text[:pp.rvAt])
	u.str() // uid
	u.str() // strategy
	for range 2 * u.uvarint() {
		u.str()
	}
	from := int(pp.rvAt) - len(u)
	for range 2 * u.uvarint() {
		u.str()
	}
	return pp.text[from : int(pp.rvAt)-len(u)]
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// packer appends length-prefixed fields.
type packer []byte

func (b *packer) uvarint(v uint64) { *b = binary.AppendUvarint(*b, v) }

func (b *packer) str(s string) {
	b.uvarint(uint64(len(s)))
	*b = append(*b, s...)
}

// time packs a time as 0 (zero) or 1 and its Unix nanoseconds.
func (b *packer) time(t time.Time) {
	if t.IsZero() {
		*b = append(*b, 0)
		return
	}
	*b = append(*b, 1)
	*b = binary.AppendVarint(*b, t.UnixNano())
}

// unpacker reads what a packer wrote, from a string, without copies; past
// the end it reads zeros and empty strings.
type unpacker string

func (u *unpacker) uvarint() uint64 {
	var v uint64
	for shift := uint(0); len(*u) > 0 && shift < 64; shift += 7 {
		c := (*u)[0]
		*u = (*u)[1:]
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	return v
}

func (u *unpacker) str() string {
	n := u.uvarint()
	if n > uint64(len(*u)) {
		n = uint64(len(*u))
	}
	s := string((*u)[:n])
	*u = (*u)[n:]
	return s
}

func (u *unpacker) time() time.Time {
	if len(*u) == 0 || (*u)[0] == 0 {
		if len(*u) > 0 {
			*u = (*u)[1:]
		}
		return time.Time{}
	}
	*u = (*u)[1:]
	zz := u.uvarint()
	return time.Unix(0, int64(zz>>1)^-int64(zz&1))
}
