package election

import (
	"net/netip"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/leaderhub/leaderhub/pkg/feed"
)

// Node is what the election knows of one Node.
type Node struct {
	Name string
	// Pool is its apps.openyurt.io/nodepool label; "" when it has none.
	Pool string
	// Labels are the Node's labels; nil reads as none.
	Labels labels.Labels
	Ready  bool
	// ReadySince is when the Ready condition last changed.
	ReadySince  time.Time
	InternalIPs []string
}

// NodeOf reads a Node of the Node cache. Its labels and InternalIPs are
// the cached Node's own, shared, not copied.
func NodeOf(n *feed.Node) Node {
	return Node{Name: n.Name(), Pool: n.Pool(), Labels: n, Ready: n.Ready(), ReadySince: n.ReadySince(),
		InternalIPs: n.InternalIPs()}
}

// HasIP reports whether ip is one of the Node's InternalIPs, compared as
// the view publishes addresses: an IPv4-mapped IPv6 address is its IPv4
// address.
func (n *Node) HasIP(ip string) bool {
	if slices.Contains(n.InternalIPs, ip) {
		return true
	}
	want, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	want = want.Unmap()
	for _, a := range n.InternalIPs {
		if got, err := netip.ParseAddr(a); err == nil && got.Unmap() == want {
			return true
		}
	}
	return false
}
