package framework

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	openyurtclient "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned"
)

// UpdateNodePoolStatus changes a NodePool's status as change says, reading
// it again on a conflict, and returns it as written.
func UpdateNodePoolStatus(ctx context.Context, client openyurtclient.Interface, name string, change func(*appsv1beta2.NodePoolStatus)) (*appsv1beta2.NodePool, error) {
	pools := client.AppsV1beta2().NodePools()
	var out *appsv1beta2.NodePool
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		np, err := pools.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(&np.Status)
		out, err = pools.UpdateStatus(ctx, np, metav1.UpdateOptions{})
		return err
	})
	return out, err
}

// CreateNode creates n (a fixtures.Node, say) as its kubelet would: the
// Node, then its status (Ready condition, addresses) through the status
// subresource, which a create ignores. The uid and resourceVersion are
// kube-apiserver's to set.
func CreateNode(ctx context.Context, kube kubernetes.Interface, n *corev1.Node) (*corev1.Node, error) {
	n = n.DeepCopy()
	n.UID, n.ResourceVersion = "", ""
	created, err := kube.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating Node %s: %w", n.Name, err)
	}
	created.Status = n.Status
	out, err := kube.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("writing Node %s status: %w", n.Name, err)
	}
	return out, nil
}
