package election

import (
	"fmt"
	"maps"
	"slices"
	"time"
	"unique"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

// IndexByPool is the name of the Node cache index on the
// apps.openyurt.io/nodepool label.
const IndexByPool = "pool"

// NodeIndexers index the Node cache by pool.
var NodeIndexers = cache.Indexers{IndexByPool: func(obj interface{}) ([]string, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("node cache: %T is not an object", obj)
	}
	if pool := m.GetLabels()[appsv1beta2.LabelNodePool]; pool != "" {
		return []string{pool}, nil
	}
	return nil, nil
}}

// TransformNode slims a Node to what the election and the node authorizer
// read, before the informer stores it: name, uid, resourceVersion, labels
// (the pool label and whatever a leaderNodeLabelSelector may name), the
// Ready condition's status and transition time, and the InternalIP
// addresses. Heartbeats (lastHeartbeatTime, images, capacity, ...) leave
// the slimmed Node unchanged except for its resourceVersion, which Same
// ignores. Anything that is not a *corev1.Node passes through.
func TransformNode(obj interface{}) (interface{}, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	slim := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: n.Name, UID: n.UID, ResourceVersion: n.ResourceVersion, Labels: internLabels(n.Labels),
	}}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			slim.Status.Conditions = []corev1.NodeCondition{{Type: c.Type, Status: c.Status, LastTransitionTime: c.LastTransitionTime}}
			break
		}
	}
	internal := 0
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			internal++
		}
	}
	if internal > 0 {
		slim.Status.Addresses = make([]corev1.NodeAddress, 0, internal)
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				slim.Status.Addresses = append(slim.Status.Addresses, a)
			}
		}
	}
	return slim, nil
}

var _ cache.TransformFunc = TransformNode

// internLabels copies labels with their keys and values interned: Nodes
// share most of both (kubernetes.io/os=linux, the pool's name, ...), so
// 10,000 Nodes hold one copy of each string instead of 10,000.
func internLabels(labels map[string]string) map[string]string {
	if labels == nil {
		return nil
	}
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		out[unique.Make(k).Value()] = unique.Make(v).Value()
	}
	return out
}

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

// HasIP reports whether ip is one of the Node's InternalIPs.
func (n *Node) HasIP(ip string) bool { return slices.Contains(n.InternalIPs, ip) }

// Same reports whether two slimmed Nodes are the same to the election: a
// Node update that changes only what Same ignores (its resourceVersion, and
// all that TransformNode drops) needs no new judgement. It allocates
// nothing: the Node informer calls it for every heartbeat.
func Same(a, b *corev1.Node) bool {
	return a.Name == b.Name && a.UID == b.UID && maps.Equal(a.Labels, b.Labels) &&
		slices.Equal(a.Status.Addresses, b.Status.Addresses) &&
		slices.EqualFunc(a.Status.Conditions, b.Status.Conditions, func(x, y corev1.NodeCondition) bool {
			return x.Type == y.Type && x.Status == y.Status && x.LastTransitionTime.Equal(&y.LastTransitionTime)
		})
}
