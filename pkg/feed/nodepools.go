package feed

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	openyurtv1beta2 "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned/typed/apps/v1beta2"
)

// View is the NodePool reflector's first store: the view, which follows the
// reflector's resource versions and bookmarks as kube-apiserver's watch
// cache does.
type View interface {
	cache.ReflectorStore
	cache.ResourceVersionUpdater
	cache.ReflectorBookmarkStore
}

// Follower is handed every NodePool after the view has stored it.
type Follower interface {
	// Upsert records a NodePool as it is now.
	Upsert(np *appsv1beta2.NodePool)
	// Delete forgets a NodePool.
	Delete(name string)
	// Replace records a full list: NodePools missing from it are gone.
	Replace(nps []*appsv1beta2.NodePool)
}

// NodePools is leaderhub's one NodePool watch: a reflector (list, then
// watch, relisting when the watch cannot resume) whose store is a fanOut to
// the view and then every follower.
type NodePools struct {
	reflector *cache.Reflector
}

// NewNodePools builds the NodePool watch; Run runs it.
func NewNodePools(client openyurtv1beta2.NodePoolInterface, view View, followers ...Follower) *NodePools {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return client.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return client.Watch(ctx, opts)
		},
	}
	store := &fanOut{View: view, followers: followers}
	return &NodePools{reflector: cache.NewReflectorWithOptions(lw, &appsv1beta2.NodePool{}, store,
		cache.ReflectorOptions{Name: "leaderhub-nodepools"})}
}

// Run lists and watches NodePools until ctx ends.
func (n *NodePools) Run(ctx context.Context) { n.reflector.RunWithContext(ctx) }

// fanOut is the NodePool reflector's store. The view comes first and
// decides: what it refuses, no follower sees. Resource-version updates and
// bookmarks concern only the view (promoted from it).
type fanOut struct {
	View
	followers []Follower
}

func (f *fanOut) Add(obj interface{}) error { return f.Update(obj) }

func (f *fanOut) Update(obj interface{}) error {
	if err := f.View.Update(obj); err != nil {
		return err
	}
	if np, ok := asNodePool(obj); ok {
		for _, fl := range f.followers {
			fl.Upsert(np)
		}
	}
	return nil
}

func (f *fanOut) Delete(obj interface{}) error {
	if err := f.View.Delete(obj); err != nil {
		return err
	}
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if np, ok := asNodePool(obj); ok {
		for _, fl := range f.followers {
			fl.Delete(np.Name)
		}
	}
	return nil
}

func (f *fanOut) Replace(list []interface{}, rv string) error {
	if err := f.View.Replace(list, rv); err != nil {
		return err
	}
	nps := make([]*appsv1beta2.NodePool, 0, len(list))
	for _, obj := range list {
		if np, ok := asNodePool(obj); ok {
			nps = append(nps, np)
		}
	}
	for _, fl := range f.followers {
		fl.Replace(nps)
	}
	return nil
}

func asNodePool(obj interface{}) (*appsv1beta2.NodePool, bool) {
	np, ok := obj.(*appsv1beta2.NodePool)
	if !ok {
		klog.ErrorS(fmt.Errorf("unexpected %T", obj), "The NodePool watch delivered something other than a NodePool")
	}
	return np, ok
}
