package nodepool

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

// NodeStore is the part of a Node informer's store a lookup reads.
type NodeStore interface {
	GetByKey(key string) (item interface{}, exists bool, err error)
}

// InformerLookup reads a node's pool from the server's Node informer (the
// one the election tracker reads, slimmed by feed.SlimNode), so
// lookups cost no request.
type InformerLookup struct {
	Indexer NodeStore
}

var (
	_ PoolLookup = InformerLookup{}
	_ NodeStore  = cache.Indexer(nil)
)

// PoolOf returns the value of the node's apps.openyurt.io/nodepool label.
// A store that fails, or holds something other than object metadata, is an
// error: the authorizer then denies, with the reason.
func (l InformerLookup) PoolOf(node string) (string, bool, error) {
	obj, exists, err := l.Indexer.GetByKey(node)
	if err != nil {
		return "", false, fmt.Errorf("reading node %q from the Node cache: %w", node, err)
	}
	if !exists {
		return "", false, nil
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return "", false, fmt.Errorf("the Node cache holds a %T for node %q, not object metadata", obj, node)
	}
	pool, ok := m.GetLabels()[appsv1beta2.LabelNodePool]
	return pool, ok && pool != "", nil
}
