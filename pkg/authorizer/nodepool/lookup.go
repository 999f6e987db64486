package nodepool

import (
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

// InformerLookup reads a node's pool from a metadata-only Node informer, so
// lookups cost no request and the cache holds only labels and names.
type InformerLookup struct {
	Indexer cache.Indexer
}

var _ PoolLookup = InformerLookup{}

// PoolOf returns the value of the node's apps.openyurt.io/nodepool label.
func (l InformerLookup) PoolOf(node string) (string, bool, error) {
	obj, exists, err := l.Indexer.GetByKey(node)
	if err != nil {
		return "", false, err
	}
	if !exists {
		return "", false, nil
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return "", false, apierrors.NewInternalError(nil)
	}
	pool, ok := m.GetLabels()[appsv1beta2.LabelNodePool]
	return pool, ok && pool != "", nil
}
