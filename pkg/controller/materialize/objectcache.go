package materialize

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/feed"
	"github.com/leaderhub/leaderhub/pkg/projection"
)

// digest is a hash (SHA-256, first 128 bits) of the fields of one object
// that leaderhub owns: its labels and annotations (by key), its owner
// references and its payload. Two objects with the same digest need no write
// to turn one into the other.
type digest [16]byte

// ObjectCache keeps, for every managed object of one form in leaderhub's
// namespace, the digest of the fields leaderhub owns instead of the object:
// about 100 bytes per pool rather than an informer's few KiB. It is fed by a
// reflector (list, then watch) and tells the controller which pool's object
// changed (feed.Listeners). Writes read the live object first, so nothing
// but the digest is needed between them.
type ObjectCache struct {
	feed.Listeners
	kind      kind
	reflector *cache.Reflector

	mu      sync.RWMutex
	digests map[string]digest // by object name
	synced  bool
}

var (
	_ cache.ReflectorStore = &ObjectCache{}
	_ feed.Notifier        = &ObjectCache{}
)

// NewObjectCache returns the cache of one form's managed objects in opts'
// namespace. Run fills it.
func NewObjectCache(client kubernetes.Interface, form Form, opts projection.Options) (*ObjectCache, error) {
	var k kind
	switch form {
	case FormEndpoints:
		k = newEndpointsKind(client, opts)
	case FormConfigMap:
		k = newConfigMapKind(client, opts)
	case FormEndpointSliceIPv4:
		k = newEndpointSliceKind(client, opts, form, discoveryv1.AddressTypeIPv4)
	case FormEndpointSliceIPv6:
		k = newEndpointSliceKind(client, opts, form, discoveryv1.AddressTypeIPv6)
	default:
		return nil, fmt.Errorf("unknown form %q: want %s, %s, %s or %s", form, FormEndpoints, FormConfigMap,
			FormEndpointSliceIPv4, FormEndpointSliceIPv6)
	}
	c := &ObjectCache{kind: k, digests: map[string]digest{}}
	selector := v1alpha1.LabelManagedBy + "=" + v1alpha1.ManagedByValue
	lw := cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = selector
			return k.list(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return k.watch(ctx, o)
		},
	}, client) // a client that cannot stream lists (a fake) makes the reflector list
	c.reflector = cache.NewReflectorWithOptions(lw, k.example(), c, cache.ReflectorOptions{Name: "leaderhub-" + string(form)})
	return c, nil
}

// Form is the form the cache holds.
func (c *ObjectCache) Form() Form { return c.kind.form() }

// Run lists and watches the managed objects until ctx ends.
func (c *ObjectCache) Run(ctx context.Context) { c.reflector.RunWithContext(ctx) }

// HasSynced reports whether the first list has been stored.
func (c *ObjectCache) HasSynced() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.synced
}

// get returns the digest of the managed object called name.
func (c *ObjectCache) get(name string) (digest, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	d, ok := c.digests[name]
	return d, ok
}

// pools returns the pools of every managed object, from their names.
func (c *ObjectCache) pools() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.digests))
	for name := range c.digests {
		if pool, ok := c.kind.poolOf(name); ok {
			out = append(out, pool)
		}
	}
	return out
}

// digestOf hashes what leaderhub owns of obj.
func (c *ObjectCache) digestOf(obj metav1.Object) digest {
	h := sha256.New()
	owned := func(m map[string]string, keys []string) {
		for _, k := range keys {
			v, ok := m[k]
			fmt.Fprintf(h, "%q:%t:%q\n", k, ok, v)
		}
	}
	owned(obj.GetLabels(), c.kind.ownedLabels())
	owned(obj.GetAnnotations(), c.kind.ownedAnnotations())
	enc := json.NewEncoder(h)
	refs := obj.GetOwnerReferences()
	if len(refs) == 0 {
		refs = nil
	}
	// Encoding the API types cannot fail; an error would only make the
	// digests differ, and so cost one read and no write.
	_ = enc.Encode(refs)
	_ = enc.Encode(c.kind.payload(obj))
	var d digest
	copy(d[:], h.Sum(nil))
	return d
}

// Add stores an object's digest (reflector contract).
func (c *ObjectCache) Add(obj interface{}) error { return c.Update(obj) }

// Update stores an object's digest and tells the listener if it changed.
func (c *ObjectCache) Update(obj interface{}) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if _, ours := c.kind.poolOf(m.GetName()); !ours {
		return nil // another form's object (the other family's EndpointSlice), or no pool's
	}
	d := c.digestOf(m)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.digests[m.GetName()]; ok && old == d {
		return nil
	}
	c.digests[m.GetName()] = d
	c.notifyLocked(m.GetName())
	return nil
}

// Delete forgets an object (reflector contract).
func (c *ObjectCache) Delete(obj interface{}) error {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.digests[m.GetName()]; ok {
		delete(c.digests, m.GetName())
		c.notifyLocked(m.GetName())
	}
	return nil
}

// Replace swaps in the digests of a full list (reflector contract) and tells
// the listener of every object that changed, appeared or went.
func (c *ObjectCache) Replace(list []interface{}, _ string) error {
	next := make(map[string]digest, len(list))
	for _, obj := range list {
		m, err := meta.Accessor(obj)
		if err != nil {
			return err
		}
		if _, ours := c.kind.poolOf(m.GetName()); ours {
			next[m.GetName()] = c.digestOf(m)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, d := range next {
		if old, ok := c.digests[name]; !ok || old != d {
			c.notifyLocked(name)
		}
	}
	for name := range c.digests {
		if _, ok := next[name]; !ok {
			c.notifyLocked(name)
		}
	}
	c.digests, c.synced = next, true
	return nil
}

// Resync is a no-op (reflector contract).
func (c *ObjectCache) Resync() error { return nil }

// notifyLocked tells the listeners of the pool of the object called name.
func (c *ObjectCache) notifyLocked(name string) {
	if pool, ok := c.kind.poolOf(name); ok {
		c.Notify(pool)
	}
}
