package election

import (
	"encoding/binary"
	"encoding/hex"
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
// text included, since the elector writes the conditions back. A uid that
// is a UUID as kube-apiserver writes it is packed in its 16 bytes, not its
// 36 characters.
type packedPool struct {
	text          string
	lastElected   int64
	specChangedAt int64
	wanted        int32
	// rvAt is where the resourceVersion starts in text.
	rvAt    uint32
	enabled bool
	// uuid: text starts with the uid's 16 bytes, not a length-prefixed
	// string.
	uuid bool
}

func packPool(p *Pool) packedPool {
	// Built on the stack for most pools: the string is the one allocation.
	var buf [256]byte
	b, uuid := appendUUID(buf[:0], string(p.UID))
	if !uuid {
		b = appendStr(b, string(p.UID))
	}
	b = appendStr(b, string(p.Strategy))
	keys := slices.Sorted(maps.Keys(p.Selector))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendStr(appendStr(b, k), p.Selector[k])
	}
	b = binary.AppendUvarint(b, uint64(len(p.Leaders)))
	for _, l := range p.Leaders {
		b = appendStr(appendStr(b, l.NodeName), l.Address)
	}
	b = binary.AppendUvarint(b, uint64(len(p.Conditions)))
	for _, c := range p.Conditions {
		b = appendStr(appendStr(b, string(c.Type)), string(c.Status))
		b = appendStr(appendStr(b, c.Reason), c.Message)
		b = appendTime(b, c.LastTransitionTime.Time)
	}
	rvAt := len(b)
	b = append(b, p.ResourceVersion...)
	return packedPool{text: string(b), rvAt: uint32(rvAt), wanted: int32(p.Wanted), enabled: p.Enabled, uuid: uuid,
		lastElected: unixNano(p.LastElected.Time), specChangedAt: unixNano(p.SpecChangedAt)}
}

// unpack gives back the Pool named name. Its strings share the packed
// text; the Pool is the caller's.
func (pp *packedPool) unpack(name string) *Pool {
	u := unpacker(pp.text[:pp.rvAt])
	p := &Pool{Name: name, ResourceVersion: pp.text[pp.rvAt:], Enabled: pp.enabled, Wanted: int(pp.wanted),
		LastElected: metav1.Time{Time: fromUnixNano(pp.lastElected)}, SpecChangedAt: fromUnixNano(pp.specChangedAt)}
	p.UID = pp.uid()
	pp.skipUID(&u)
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
	u := unpacker(pp.text[:pp.rvAt])
	raw := pp.skipUID(&u)
	if !pp.uuid {
		return types.UID(raw)
	}
	var b [16]byte
	copy(b[:], raw)
	var text [36]byte
	hex.Encode(text[0:8], b[0:4])
	hex.Encode(text[9:13], b[4:6])
	hex.Encode(text[14:18], b[6:8])
	hex.Encode(text[19:23], b[8:10])
	hex.Encode(text[24:36], b[10:16])
	text[8], text[13], text[18], text[23] = '-', '-', '-', '-'
	return types.UID(text[:])
}

// sameUID reports whether two packed pools have the same uid, without
// formatting either.
func (pp *packedPool) sameUID(q *packedPool) bool {
	u, v := unpacker(pp.text[:pp.rvAt]), unpacker(q.text[:q.rvAt])
	return pp.uuid == q.uuid && pp.skipUID(&u) == q.skipUID(&v)
}

// skipUID reads the uid off u and returns it as packed: its 16 bytes, or
// its text.
func (pp *packedPool) skipUID(u *unpacker) string {
	if !pp.uuid {
		return u.str()
	}
	raw := string((*u)[:min(16, len(*u))])
	*u = (*u)[len(raw):]
	return raw
}

// same reports whether two packed readings of a NodePool are the same but
// for the resourceVersion and the times outside the conditions.
func (pp *packedPool) same(q *packedPool) bool {
	return pp.enabled == q.enabled && pp.wanted == q.wanted && pp.uuid == q.uuid && pp.text[:pp.rvAt] == q.text[:q.rvAt]
}

// leadersText is the part of text that holds the leaders: equal exactly
// when the leader lists are.
func (pp *packedPool) leadersText() string {
	u := unpacker(pp.text[:pp.rvAt])
	pp.skipUID(&u)
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

// appendUUID appends uid's 16 bytes if it is a UUID written as
// kube-apiserver writes them (lowercase, 8-4-4-4-12), and reports whether
// it did.
func appendUUID(b []byte, uid string) ([]byte, bool) {
	if len(uid) != 36 || uid[8] != '-' || uid[13] != '-' || uid[18] != '-' || uid[23] != '-' {
		return b, false
	}
	var raw [16]byte
	at := 0
	for _, part := range []string{uid[0:8], uid[9:13], uid[14:18], uid[19:23], uid[24:36]} {
		for i := 0; i < len(part); i += 2 {
			hi, lo := fromHex(part[i]), fromHex(part[i+1])
			if hi < 0 || lo < 0 {
				return b, false
			}
			raw[at] = byte(hi<<4 | lo)
			at++
		}
	}
	return append(b, raw[:]...), true
}

// fromHex is a lowercase hex digit's value; -1 for anything else (an
// uppercase UUID is kept as text, so it unpacks as written).
func fromHex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

// appendStr appends a length-prefixed string.
func appendStr(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// appendTime appends a time as 0 (zero) or 1 and its Unix nanoseconds.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), t.UnixNano())
}

// unpacker reads what packPool wrote, from a string, without copies; past
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
