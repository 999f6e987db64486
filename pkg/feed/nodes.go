package feed

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// NodeHandler is told of every Node change its readers can see: old is nil
// for a Node added, new nil for one deleted. Updates that change nothing
// leaderhub keeps (heartbeats) are not told. It is called with no lock
// held, one change at a time, and may read the cache.
type NodeHandler func(old, new *Node)

// Nodes is leaderhub's one Node watch and the cache it fills: a reflector
// (list, then watch, relisting when the watch cannot resume) whose store
// keeps each Node as a Node, by name and by pool, and tells its handlers
// of the changes. A heartbeat is decoded, found to read the same as the
// Node kept, and dropped: nothing is allocated or told for it.
type Nodes struct {
	reflector *cache.Reflector

	mu     sync.RWMutex
	byName map[string]*Node
	byPool map[string]map[string]*Node
	synced bool

	handlersMu sync.Mutex
	handlers   []NodeHandler
}

var (
	_ cache.ReflectorStore    = &Nodes{}
	_ cache.TransformingStore = &Nodes{}
)

// NewNodes builds the Node watch over client (which should ask for
// protobuf: Nodes are many, and large); Run runs it.
func NewNodes(client kubernetes.Interface) *Nodes {
	nodes := client.CoreV1().Nodes()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return nodes.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return nodes.Watch(ctx, opts)
		},
	}
	n := NewNodeCache()
	n.reflector = cache.NewReflectorWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, client), &corev1.Node{}, n,
		cache.ReflectorOptions{Name: "leaderhub-nodes"})
	return n
}

// NewNodeCache is a Node cache with no watch: what NewNodes fills, for
// tests that fill it themselves.
func NewNodeCache() *Nodes {
	return &Nodes{byName: map[string]*Node{}, byPool: map[string]map[string]*Node{}}
}

// Run lists and watches Nodes until ctx ends.
func (n *Nodes) Run(ctx context.Context) { n.reflector.RunWithContext(ctx) }

// AddHandler has h told of every Node change from now on.
func (n *Nodes) AddHandler(h NodeHandler) {
	n.handlersMu.Lock()
	defer n.handlersMu.Unlock()
	n.handlers = append(n.handlers, h)
}

// HasSynced reports whether the first list is in the cache.
func (n *Nodes) HasSynced() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.synced
}

// Get returns a Node by name.
func (n *Nodes) Get(name string) (*Node, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	node, ok := n.byName[name]
	return node, ok
}

// InPool returns the Nodes labeled into a pool, in no order.
func (n *Nodes) InPool(pool string) []*Node {
	n.mu.RLock()
	defer n.mu.RUnlock()
	members := n.byPool[pool]
	out := make([]*Node, 0, len(members))
	for _, node := range members {
		out = append(out, node)
	}
	return out
}

// PoolOf returns a node's pool, for the node authorizer: false when the
// node is unknown or in no pool.
func (n *Nodes) PoolOf(name string) (string, bool, error) {
	node, ok := n.Get(name)
	if !ok || node.Pool() == "" {
		return "", false, nil
	}
	return node.Pool(), true, nil
}

// Len is how many Nodes the cache holds.
func (n *Nodes) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.byName)
}

// Transformer turns the Nodes of a watch-list's initial events into Nodes
// as they arrive, so a start-up holds what the cache keeps and not every
// whole Node at once (cache.TransformingStore).
func (n *Nodes) Transformer() cache.TransformFunc {
	return func(obj interface{}) (interface{}, error) {
		if node, ok := obj.(*corev1.Node); ok {
			return NewNode(node), nil
		}
		return obj, nil
	}
}

// Add stores a Node (cache.ReflectorStore).
func (n *Nodes) Add(obj interface{}) error { return n.Update(obj) }

// Update stores a Node; one that reads as the Node kept is dropped.
func (n *Nodes) Update(obj interface{}) error {
	var node *Node
	switch o := obj.(type) {
	case *corev1.Node:
		n.mu.RLock()
		old := n.byName[o.Name]
		n.mu.RUnlock()
		if old != nil && old.SameAs(o) {
			return nil // a heartbeat
		}
		node = NewNode(o)
	case *Node:
		node = o
	default:
		return fmt.Errorf("the Node cache cannot store a %T", obj)
	}
	n.mu.Lock()
	old := n.byName[node.name]
	if old != nil && old.Same(node) {
		n.mu.Unlock()
		return nil
	}
	n.putLocked(old, node)
	n.mu.Unlock()
	n.tell(old, node)
	return nil
}

// Delete forgets a Node.
func (n *Nodes) Delete(obj interface{}) error {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	var name string
	switch o := obj.(type) {
	case *corev1.Node:
		name = o.Name
	case *Node:
		name = o.name
	default:
		return fmt.Errorf("the Node cache cannot delete a %T", obj)
	}
	n.mu.Lock()
	old := n.byName[name]
	if old == nil {
		n.mu.Unlock()
		return nil
	}
	n.putLocked(old, nil)
	n.mu.Unlock()
	n.tell(old, nil)
	return nil
}

// Replace stores a full list: Nodes missing from it are deleted. Its
// handlers are told of what the list changed.
func (n *Nodes) Replace(list []interface{}, _ string) error {
	next := make(map[string]*Node, len(list))
	for _, obj := range list {
		switch o := obj.(type) {
		case *corev1.Node:
			next[o.Name] = NewNode(o)
		case *Node:
			next[o.name] = o
		default:
			klog.ErrorS(fmt.Errorf("unexpected %T", obj), "The Node list delivered something other than a Node")
		}
	}
	type change struct{ old, new *Node }
	var changes []change
	n.mu.Lock()
	for name, old := range n.byName {
		if next[name] == nil {
			changes = append(changes, change{old, nil})
		}
	}
	byPool := map[string]map[string]*Node{}
	for name, node := range next {
		if old := n.byName[name]; old == nil || !old.Same(node) {
			changes = append(changes, change{old, node})
		} else {
			next[name] = old // keep the Node readers may already hold
		}
		pool := node.Pool()
		if byPool[pool] == nil {
			byPool[pool] = map[string]*Node{}
		}
		byPool[pool][name] = next[name]
	}
	n.byName, n.byPool, n.synced = next, byPool, true
	n.mu.Unlock()
	for _, c := range changes {
		n.tell(c.old, c.new)
	}
	return nil
}

// Resync does nothing: the cache is not a queue (cache.ReflectorStore).
func (n *Nodes) Resync() error { return nil }

// putLocked replaces old (nil: none) with node (nil: deleted) in both maps.
func (n *Nodes) putLocked(old, node *Node) {
	if old != nil {
		pool := old.Pool()
		delete(n.byPool[pool], old.name)
		if len(n.byPool[pool]) == 0 {
			delete(n.byPool, pool)
		}
		delete(n.byName, old.name)
	}
	if node != nil {
		pool := node.Pool()
		if n.byPool[pool] == nil {
			n.byPool[pool] = map[string]*Node{}
		}
		n.byPool[pool][node.name] = node
		n.byName[node.name] = node
	}
}

func (n *Nodes) tell(old, node *Node) {
	n.handlersMu.Lock()
	handlers := n.handlers
	n.handlersMu.Unlock()
	for _, h := range handlers {
		h(old, node)
	}
}
