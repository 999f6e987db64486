package integration

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/leaderhub/leaderhub/client/generated/clientset/versioned"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/test/fixtures"
	"github.com/leaderhub/leaderhub/test/framework"
)

// as returns a LeaderHub client through kube-apiserver for a user with a
// client certificate from the cluster CA.
func as(t *testing.T, user string, groups ...string) versioned.Interface {
	t.Helper()
	cfg, err := controlPlane.RESTConfigFor(user, groups...)
	if err != nil {
		t.Fatal(err)
	}
	return versioned.NewForConfigOrDie(cfg)
}

// access tries get of name, and list and watch selected by name (or
// unselected when name is ""), and returns the HTTP-ish outcome of each.
type access struct{ get, list, watch error }

func try(ctx context.Context, c versioned.Interface, get, selected string) access {
	lhs := c.LeaderhubV1alpha1().LeaderHubs(viewNS)
	var a access
	_, a.get = lhs.Get(ctx, get, metav1.GetOptions{})
	opts := metav1.ListOptions{}
	if selected != "" {
		opts.FieldSelector = "metadata.name=" + selected
	}
	_, a.list = lhs.List(ctx, opts)
	w, err := lhs.Watch(ctx, opts)
	if err == nil {
		w.Stop()
	}
	a.watch = err
	return a
}

func (a access) String() string {
	return fmt.Sprintf("get: %v; list: %v; watch: %v", a.get, a.list, a.watch)
}

func (a access) allowed() bool { return a.get == nil && a.list == nil && a.watch == nil }
func (a access) forbidden() bool {
	return apierrors.IsForbidden(a.get) && apierrors.IsForbidden(a.list) && apierrors.IsForbidden(a.watch)
}

func setNodePool(t *testing.T, node, pool string) {
	t.Helper()
	ctx := testContext(t, 10*time.Second)
	nodes := kubeClient(t).CoreV1().Nodes()
	n, err := nodes.Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := framework.CreateNode(ctx, kubeClient(t), fixtures.Node(node, pool, true)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nodes.Delete(context.Background(), node, metav1.DeleteOptions{}) })
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	n.Labels["apps.openyurt.io/nodepool"] = pool
	if _, err := nodes.Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestAuthorizationMatrix, through kube-apiserver with real client
// certificates: anonymous and unprivileged users are refused, the view role
// reads, and an edge node reads only its own pool's LeaderHub, selected by
// name, following the node when it moves to another pool.
func TestAuthorizationMatrix(t *testing.T) {
	sharedView(t)
	ctx := testContext(t, 2*time.Minute)
	createPool(t, "authz-a", leaders("a1=10.20.0.1"))
	createPool(t, "authz-b", leaders("b1=10.20.1.1"))
	const a, b = "leader-hub-authz-a", "leader-hub-authz-b"
	waitViewAt(t, updateStatus(t, "authz-b", func(*appsv1beta2.NodePoolStatus) {}).ResourceVersion)

	// Anonymous: no client certificate at all.
	caPEM, err := os.ReadFile(controlPlane.CA.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	anon := versioned.NewForConfigOrDie(&rest.Config{Host: controlPlane.ServerURL, TLSClientConfig: rest.TLSClientConfig{CAData: caPEM}})
	if got := try(ctx, anon, a, a); !(isUnauthorizedOrForbidden(got.get) && isUnauthorizedOrForbidden(got.list) && isUnauthorizedOrForbidden(got.watch)) {
		t.Errorf("anonymous: %v, want 401/403", got)
	}
	if got := try(ctx, as(t, "nobody"), a, a); !got.forbidden() {
		t.Errorf("user without RBAC: %v, want 403", got)
	}

	// The built-in view role includes leaderhubs through aggregation, which
	// kube-controller-manager's clusterrole-aggregation controller performs.
	kcm, err := controlPlane.StartControllerManager(ctx, "clusterrole-aggregation")
	if err != nil {
		t.Fatal(err)
	}
	framework.StopOnCleanup(t, kcm, 10*time.Second)
	createRoleBinding(t, viewNS, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "viewer-can-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "viewer"}},
	})
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return try(ctx, as(t, "viewer"), a, "").allowed(), nil
	})
	if err != nil {
		t.Errorf("user with the view role: %v, want 200", try(ctx, as(t, "viewer"), a, ""))
	}

	// An edge node of pool A.
	setNodePool(t, "edge-n1", "authz-a")
	node := as(t, "system:node:edge-n1", "system:nodes")
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return try(ctx, node, a, a).allowed(), nil
	})
	if err != nil {
		t.Fatalf("node of pool A, own LeaderHub: %v, want 200", try(ctx, node, a, a))
	}
	other := try(ctx, node, b, b)
	if !other.forbidden() || !strings.Contains(other.get.Error(), "belongs to pool authz-a and may only read leader-hub-authz-a") {
		t.Errorf("node of pool A, pool B's LeaderHub: %v, want 403 with a reason", other)
	}
	unselected := try(ctx, node, a, "")
	if !apierrors.IsForbidden(unselected.list) || !apierrors.IsForbidden(unselected.watch) ||
		!strings.Contains(unselected.list.Error(), "fieldSelector=metadata.name=leader-hub-authz-a") {
		t.Errorf("node of pool A, unselected list/watch: %v, want 403 with a reason", unselected)
	}
	if err := node.LeaderhubV1alpha1().RESTClient().Delete().Namespace(viewNS).Resource("leaderhubs").Name(a).Do(ctx).Error(); !apierrors.IsForbidden(err) {
		t.Errorf("node delete: %v, want 403", err)
	}
	lh, err := node.LeaderhubV1alpha1().LeaderHubs(viewNS).Get(ctx, a, metav1.GetOptions{})
	if err != nil || lh.Subsets[0].Addresses[0].IP != "10.20.0.1" {
		t.Errorf("node read %v, %v", lh, err)
	}

	// The node moves to pool B.
	setNodePool(t, "edge-n1", "authz-b")
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return try(ctx, node, b, b).allowed() && try(ctx, node, a, a).forbidden(), nil
	})
	if err != nil {
		t.Errorf("after moving to pool B: B %v, A %v; want B allowed, A denied", try(ctx, node, b, b), try(ctx, node, a, a))
	}

	// A node without a pool reads nothing.
	setNodePool(t, "edge-n2", "")
	if got := try(ctx, as(t, "system:node:edge-n2", "system:nodes"), a, a); !got.forbidden() || !strings.Contains(got.get.Error(), "belongs to no NodePool") {
		t.Errorf("node without a pool: %v, want 403", got)
	}
}

func isUnauthorizedOrForbidden(err error) bool {
	return apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err)
}
