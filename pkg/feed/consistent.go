package feed

import (
	"context"
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	openyurtv1beta2 "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned/typed/apps/v1beta2"
)

// ConsistentNodePools reads NodePools from kube-apiserver at its newest
// version: lists without a resourceVersion, which kube-apiserver serves
// only once it has caught up with etcd.
type ConsistentNodePools struct {
	client openyurtv1beta2.NodePoolInterface
}

// NewConsistentNodePools reads NodePools through client.
func NewConsistentNodePools(client openyurtv1beta2.NodePoolInterface) *ConsistentNodePools {
	return &ConsistentNodePools{client: client}
}

// Revision returns kube-apiserver's newest resource version, from a list of
// at most one NodePool.
func (c *ConsistentNodePools) Revision(ctx context.Context) (uint64, error) {
	list, err := c.client.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return 0, fmt.Errorf("listing one NodePool for kube-apiserver's resource version: %w", err)
	}
	return listVersion(list)
}

// List returns every NodePool and the list's resource version.
func (c *ConsistentNodePools) List(ctx context.Context) ([]*appsv1beta2.NodePool, uint64, error) {
	list, err := c.client.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("listing NodePools: %w", err)
	}
	rv, err := listVersion(list)
	if err != nil {
		return nil, 0, err
	}
	out := make([]*appsv1beta2.NodePool, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, rv, nil
}

func listVersion(list *appsv1beta2.NodePoolList) (uint64, error) {
	rv, err := strconv.ParseUint(list.ResourceVersion, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("NodePool list resourceVersion %q is not an unsigned integer: %w", list.ResourceVersion, err)
	}
	return rv, nil
}
