package election

import (
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

// Node is what the election knows of one Node.
type Node struct {
	Name string
	// Pool is its apps.openyurt.io/nodepool label; "" when it has none.
	Pool   string
	Labels map[string]string
	Ready  bool
	// ReadySince is when the Ready condition last changed.
	ReadySince  time.Time
	InternalIPs []string
}

// NodeOf reads a (slimmed or whole) Node.
func NodeOf(n *corev1.Node) Node {
	out := Node{Name: n.Name, Pool: n.Labels[appsv1beta2.LabelNodePool], Labels: n.Labels}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			out.Ready = c.Status == corev1.ConditionTrue
			out.ReadySince = c.LastTransitionTime.Time
		}
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && a.Address != "" {
			out.InternalIPs = append(out.InternalIPs, a.Address)
		}
	}
	return out
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
