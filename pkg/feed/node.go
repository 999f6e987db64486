package feed

import (
	"slices"
	"strings"
	"time"
	"unique"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

// Node is what leaderhub keeps of one Node, and all that its readers (the
// election tracker, the elector through it, the node authorizer) read: the
// name, the pool, Ready and since when, the InternalIPs and the labels, which
// a pool's leaderNodeLabelSelector may name. It is immutable: the cache
// replaces a Node, never changes one, so readers share it without copies.
//
// Nodes share most of their labels (the pool's, the OS, the architecture,
// the zone), so the pool and the other labels are each one interned string
// that every Node with the same ones points to; kubernetes.io/hostname, the
// one label each Node has its own value of, is a flag when it is the Node's
// name, as kubelets write it.
type Node struct {
	name string
	pool unique.Handle[string]
	// labels are the labels other than the pool label and a hostname
	// label equal to the name: "key\x00value\x00" pairs sorted by key.
	labels unique.Handle[string]
	ips    []string
	// readySince is the Ready condition's lastTransitionTime in Unix
	// nanoseconds; 0 when the Node has no Ready condition.
	readySince int64
	flags      nodeFlags
}

type nodeFlags uint8

const (
	flagReady nodeFlags = 1 << iota
	flagPoolLabel
	flagHostnameIsName
)

var noLabels = unique.Make("")

// NewNode reads what leaderhub keeps of a Node.
func NewNode(n *corev1.Node) *Node {
	out := &Node{name: n.Name, pool: noLabels, labels: noLabels}
	keys := make([]string, 0, len(n.Labels))
	for k, v := range n.Labels {
		switch {
		case k == appsv1beta2.LabelNodePool:
			out.pool, out.flags = unique.Make(v), out.flags|flagPoolLabel
		case k == corev1.LabelHostname && v == n.Name:
			out.flags |= flagHostnameIsName
		default:
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		slices.Sort(keys)
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(k)
			b.WriteByte(0)
			b.WriteString(n.Labels[k])
			b.WriteByte(0)
		}
		out.labels = unique.Make(b.String())
	}
	if ready := readyCondition(n); ready != nil {
		if ready.Status == corev1.ConditionTrue {
			out.flags |= flagReady
		}
		if !ready.LastTransitionTime.IsZero() {
			out.readySince = ready.LastTransitionTime.UnixNano()
		}
	}
	count := 0
	for _, a := range n.Status.Addresses {
		if internalIP(a) {
			count++
		}
	}
	if count > 0 {
		out.ips = make([]string, 0, count)
		for _, a := range n.Status.Addresses {
			if internalIP(a) {
				out.ips = append(out.ips, a.Address)
			}
		}
	}
	return out
}

func readyCondition(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

func internalIP(a corev1.NodeAddress) bool { return a.Type == corev1.NodeInternalIP && a.Address != "" }

// Name is the Node's name.
func (n *Node) Name() string { return n.name }

// Pool is the Node's apps.openyurt.io/nodepool label; "" when it has none.
func (n *Node) Pool() string { return n.pool.Value() }

// Ready reports whether the Node's Ready condition is True.
func (n *Node) Ready() bool { return n.flags&flagReady != 0 }

// ReadySince is when the Node's Ready condition last changed; zero when it
// has none.
func (n *Node) ReadySince() time.Time {
	if n.readySince == 0 {
		return time.Time{}
	}
	return time.Unix(0, n.readySince)
}

// InternalIPs are the Node's InternalIP addresses, in the order of its
// status. The slice is the Node's own: callers must not modify it.
func (n *Node) InternalIPs() []string { return n.ips }

var _ labels.Labels = &Node{}

// Has reports whether the Node has the label (labels.Labels).
func (n *Node) Has(key string) bool {
	_, ok := n.Lookup(key)
	return ok
}

// Get returns the label's value, "" when the Node has none (labels.Labels).
func (n *Node) Get(key string) string {
	v, _ := n.Lookup(key)
	return v
}

// Lookup returns the label's value and whether the Node has it (labels.Labels).
func (n *Node) Lookup(key string) (string, bool) {
	switch {
	case key == appsv1beta2.LabelNodePool:
		return n.pool.Value(), n.flags&flagPoolLabel != 0
	case key == corev1.LabelHostname && n.flags&flagHostnameIsName != 0:
		return n.name, true
	}
	for rest := n.labels.Value(); rest != ""; {
		var k, v string
		k, rest, _ = strings.Cut(rest, "\x00")
		v, rest, _ = strings.Cut(rest, "\x00")
		if k == key {
			return v, true
		}
	}
	return "", false
}

// labelCount is how many labels the Node has.
func (n *Node) labelCount() int {
	count := strings.Count(n.labels.Value(), "\x00") / 2
	if n.flags&flagPoolLabel != 0 {
		count++
	}
	if n.flags&flagHostnameIsName != 0 {
		count++
	}
	return count
}

// Same reports whether two Nodes read the same.
func (n *Node) Same(o *Node) bool {
	return n.name == o.name && n.pool == o.pool && n.labels == o.labels && n.readySince == o.readySince &&
		n.flags == o.flags && slices.Equal(n.ips, o.ips)
}

// SameAs reports whether a Node, as kube-apiserver sends it, reads as n:
// an update that changes only what leaderhub does not keep (a heartbeat:
// lastHeartbeatTime, the resourceVersion, images, ...) needs nothing done.
// It allocates nothing, so a heartbeat costs its decoding and this.
func (n *Node) SameAs(node *corev1.Node) bool {
	if node.Name != n.name || len(node.Labels) != n.labelCount() {
		return false
	}
	if v, ok := node.Labels[appsv1beta2.LabelNodePool]; ok != (n.flags&flagPoolLabel != 0) || v != n.pool.Value() {
		return false
	}
	if v, ok := node.Labels[corev1.LabelHostname]; (ok && v == node.Name) != (n.flags&flagHostnameIsName != 0) {
		return false
	}
	for rest := n.labels.Value(); rest != ""; {
		var k, v string
		k, rest, _ = strings.Cut(rest, "\x00")
		v, rest, _ = strings.Cut(rest, "\x00")
		if w, ok := node.Labels[k]; !ok || w != v {
			return false
		}
	}
	var flags nodeFlags
	var since int64
	if ready := readyCondition(node); ready != nil {
		if ready.Status == corev1.ConditionTrue {
			flags |= flagReady
		}
		if !ready.LastTransitionTime.IsZero() {
			since = ready.LastTransitionTime.UnixNano()
		}
	}
	if flags != n.flags&flagReady || since != n.readySince {
		return false
	}
	i := 0
	for _, a := range node.Status.Addresses {
		if internalIP(a) {
			if i >= len(n.ips) || n.ips[i] != a.Address {
				return false
			}
			i++
		}
	}
	return i == len(n.ips)
}
