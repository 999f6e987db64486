package feed

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"unique"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
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

// NodeReader is what the Node cache's readers use of it: Nodes by name and
// by pool (IndexByPool).
type NodeReader interface {
	GetByKey(key string) (item interface{}, exists bool, err error)
	ByIndex(indexName, indexedValue string) ([]interface{}, error)
}

var _ NodeReader = cache.Indexer(nil)

// Nodes is leaderhub's one Node watch: an informer whose cache holds every
// Node slimmed by SlimNode and indexed by pool.
type Nodes struct {
	informer cache.SharedIndexInformer
}

// NewNodes builds the Node watch over client (which should ask for
// protobuf: Nodes are many, and large before they are slimmed); Run runs it.
func NewNodes(client kubernetes.Interface) (*Nodes, error) {
	informer := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(SlimNode)).
		Core().V1().Nodes().Informer()
	if err := informer.AddIndexers(NodeIndexers); err != nil {
		return nil, fmt.Errorf("indexing the Node cache: %w", err)
	}
	return &Nodes{informer: informer}, nil
}

// Reader is the Node cache.
func (n *Nodes) Reader() NodeReader { return n.informer.GetIndexer() }

// HasSynced reports whether the first list is in the cache.
func (n *Nodes) HasSynced() bool { return n.informer.HasSynced() }

// AddHandler has h told of every Node change (slimmed Nodes).
func (n *Nodes) AddHandler(h cache.ResourceEventHandler) error {
	_, err := n.informer.AddEventHandler(h)
	return err
}

// Run lists and watches Nodes until ctx ends.
func (n *Nodes) Run(ctx context.Context) { n.informer.RunWithContext(ctx) }

// SlimNode slims a Node to what the election and the node authorizer read,
// before the informer stores it: name, uid, resourceVersion, labels (the
// pool label and whatever a leaderNodeLabelSelector may name), the Ready
// condition's status and transition time, and the InternalIP addresses.
// Heartbeats (lastHeartbeatTime, images, capacity, ...) leave the slimmed
// Node unchanged except for its resourceVersion, which SameSlimNode ignores.
// Anything that is not a *corev1.Node passes through.
func SlimNode(obj interface{}) (interface{}, error) {
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

var _ cache.TransformFunc = SlimNode

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

// SameSlimNode reports whether two slimmed Nodes are the same to their
// readers: a Node update that changes only what it ignores (the
// resourceVersion, and all that SlimNode drops) needs no new judgement. It
// allocates nothing: the Node informer's handlers call it for every
// heartbeat.
func SameSlimNode(a, b *corev1.Node) bool {
	return a.Name == b.Name && a.UID == b.UID && maps.Equal(a.Labels, b.Labels) &&
		slices.Equal(a.Status.Addresses, b.Status.Addresses) &&
		slices.EqualFunc(a.Status.Conditions, b.Status.Conditions, func(x, y corev1.NodeCondition) bool {
			return x.Type == y.Type && x.Status == y.Status && x.LastTransitionTime.Equal(&y.LastTransitionTime)
		})
}
