package framework

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
