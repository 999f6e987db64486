package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/generated/clientset/versioned"
)

func adminConfig(t *testing.T) *rest.Config {
	t.Helper()
	cfg, err := controlPlane.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// leaders builds leaderEndpoints from "node=ip" pairs.
func leaders(pairs ...string) []appsv1beta2.Leader {
	var out []appsv1beta2.Leader
	for _, p := range pairs {
		var node, ip string
		for i := range p {
			if p[i] == '=' {
				node, ip = p[:i], p[i+1:]
			}
		}
		out = append(out, appsv1beta2.Leader{NodeName: node, Address: ip})
	}
	return out
}

// createPool creates a NodePool with interconnectivity, election and the
// two default pool-scoped resources, and writes its leaders into status.
func createPool(t *testing.T, name string, ls []appsv1beta2.Leader) *appsv1beta2.NodePool {
	t.Helper()
	ctx := testContext(t, 30*time.Second)
	pools := clientset(t).AppsV1beta2().NodePools()
	np, err := pools.Create(ctx, &appsv1beta2.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge, InterConnectivity: true, EnableLeaderElection: true,
			LeaderElectionStrategy: "random", LeaderReplicas: int32(len(ls)),
			PoolScopeMetadata: []metav1.GroupVersionResource{
				{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"},
				{Version: "v1", Resource: "services"},
			}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating NodePool %s: %v", name, err)
	}
	t.Cleanup(func() { _ = pools.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	np.Status = appsv1beta2.NodePoolStatus{ReadyNodeNum: int32(len(ls)), LeaderEndpoints: ls, LeaderNum: int32(len(ls))}
	np, err = pools.UpdateStatus(ctx, np, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("writing NodePool %s status: %v", name, err)
	}
	return np
}

// updateStatus changes a NodePool's status and returns it as written.
func updateStatus(t *testing.T, name string, change func(*appsv1beta2.NodePoolStatus)) *appsv1beta2.NodePool {
	t.Helper()
	ctx := testContext(t, 30*time.Second)
	pools := clientset(t).AppsV1beta2().NodePools()
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
	if err != nil {
		t.Fatalf("updating NodePool %s status: %v", name, err)
	}
	return out
}

func setLeaders(t *testing.T, name string, ls []appsv1beta2.Leader) *appsv1beta2.NodePool {
	t.Helper()
	return updateStatus(t, name, func(s *appsv1beta2.NodePoolStatus) {
		s.LeaderEndpoints, s.LeaderNum = ls, int32(len(ls))
	})
}

// churn changes only status fields outside the projection.
func churn(t *testing.T, name string, i int) *appsv1beta2.NodePool {
	t.Helper()
	return updateStatus(t, name, func(s *appsv1beta2.NodePoolStatus) {
		s.ReadyNodeNum, s.UnreadyNodeNum = int32(i%7+1), int32(i%3)
		s.Nodes = []string{fmt.Sprintf("node-%d", i), fmt.Sprintf("node-%d", i+1)}
	})
}

func leaderHubClient(t *testing.T, cfg *rest.Config) versioned.Interface {
	t.Helper()
	return versioned.NewForConfigOrDie(cfg)
}
