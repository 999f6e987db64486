package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

func manyGVRs(n int) []metav1.GroupVersionResource {
	out := make([]metav1.GroupVersionResource, n)
	for i := range out {
		out[i] = metav1.GroupVersionResource{Group: fmt.Sprintf("group-%04d.example.com", i) + strings.Repeat("x", 60), Version: "v1", Resource: "things"}
	}
	return out
}

// TestBadInput: each row is bad input with a documented outcome
// (docs/operations.md, "Bad input"); after each, leaderhub is still ready
// and what it published for other pools is still there.
func TestBadInput(t *testing.T) {
	lh := sharedView(t)
	createPool(t, "bystander", leaders("by=10.50.0.1"))
	bystander := waitViewLeaders(t, "bystander", "by/10.50.0.1")
	healthy := func(t *testing.T) {
		t.Helper()
		if err := lh.WaitReady(testContext(t, 10*time.Second)); err != nil {
			t.Fatalf("leaderhub not ready: %v", err)
		}
		if got := waitViewLeaders(t, "bystander", "by/10.50.0.1"); got.ResourceVersion != bystander.ResourceVersion {
			t.Fatalf("another pool's LeaderHub changed: %s -> %s", bystander.ResourceVersion, got.ResourceVersion)
		}
	}

	t.Run("invalid leader addresses are left out with an Event", func(t *testing.T) {
		before := metricValue(t, lh, "leaderhub_view_invalid_leaders_total")
		createPool(t, "bi-addr", leaders("ok=10.51.0.1", "a=not-an-ip", "b=127.0.0.1", "c=", "d=fe80::1", "e=0.0.0.0"))
		waitViewLeaders(t, "bi-addr", "ok/10.51.0.1")
		waitEndpoints(t, viewNS, "leader-hub-bi-addr", "had only the valid leader", func(ep *corev1.Endpoints) bool { return endpointsLeaders(ep) == "ok/10.51.0.1" })
		ev := waitEvent(t, "bi-addr", "InvalidLeaderAddress")
		for _, want := range []string{"not an IP", "loopback", "address is empty", "link-local", "unspecified"} {
			if !strings.Contains(ev.Message, want) {
				t.Errorf("event %q lacks %q", ev.Message, want)
			}
		}
		if after := metricValue(t, lh, "leaderhub_view_invalid_leaders_total"); after < before+5 {
			t.Errorf("invalid_leaders_total %v -> %v", before, after)
		}
		healthy(t)
	})
	t.Run("duplicate leader addresses collapse", func(t *testing.T) {
		createPool(t, "bi-dup", leaders("a=10.52.0.1", "a=10.52.0.1", "b=10.52.0.1", "a=::ffff:10.52.0.1"))
		waitViewLeaders(t, "bi-dup", "a/10.52.0.1,b/10.52.0.1")
		waitEndpoints(t, viewNS, "leader-hub-bi-dup", "de-duplicated", func(ep *corev1.Endpoints) bool { return endpointsLeaders(ep) == "a/10.52.0.1,b/10.52.0.1" })
		if ev := waitEvent(t, "bi-dup", "InvalidLeaderAddress"); !strings.Contains(ev.Message, "duplicate") {
			t.Errorf("event %q does not name the duplicates", ev.Message)
		}
		healthy(t)
	})
	t.Run("empty and invalid node names are left out", func(t *testing.T) {
		createPool(t, "bi-node", leaders("=10.53.0.1", "Not_A_Node=10.53.0.2", "fine=10.53.0.3"))
		waitViewLeaders(t, "bi-node", "fine/10.53.0.3")
		if ev := waitEvent(t, "bi-node", "InvalidLeaderAddress"); !strings.Contains(ev.Message, "nodeName is empty") {
			t.Errorf("event %q", ev.Message)
		}
		healthy(t)
	})
	t.Run("thousands of leaders are all published", func(t *testing.T) {
		many := make([]appsv1beta2.Leader, 3000)
		for i := range many {
			many[i] = appsv1beta2.Leader{NodeName: fmt.Sprintf("n%04d", i), Address: fmt.Sprintf("10.54.%d.%d", i/200, i%200+1)}
		}
		createPool(t, "bi-many", many)
		client := leaderHubClient(t, adminConfig(t)).LeaderhubV1alpha1().LeaderHubs(viewNS)
		err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			lh, err := client.Get(ctx, "leader-hub-bi-many", metav1.GetOptions{})
			return err == nil && len(lh.Subsets) == 1 && len(lh.Subsets[0].Addresses) == 3000, nil
		})
		if err != nil {
			t.Fatal("the view does not serve 3000 leaders")
		}
		waitEndpoints(t, viewNS, "leader-hub-bi-many", "had 3000 addresses", func(ep *corev1.Endpoints) bool {
			return len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 3000
		})
		healthy(t)
	})
	t.Run("pool-scoped metadata too large for an annotation", func(t *testing.T) {
		// A new pool is not published.
		pools := clientset(t).AppsV1beta2().NodePools()
		if _, err := pools.Create(testContext(t, 30*time.Second), &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "bi-meta-new"},
			Spec: appsv1beta2.NodePoolSpec{InterConnectivity: true, PoolScopeMetadata: manyGVRs(3500)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pools.Delete(context.Background(), "bi-meta-new", metav1.DeleteOptions{}) })
		ev := waitEvent(t, "bi-meta-new", "PoolScopedMetadataTooLarge")
		if !strings.Contains(ev.Message, "does not fit") {
			t.Errorf("event %q", ev.Message)
		}
		// A published pool keeps its last good objects.
		createPool(t, "bi-meta-old", leaders("m=10.55.1.1"))
		published := waitViewLeaders(t, "bi-meta-old", "m/10.55.1.1")
		ep := waitEndpoints(t, viewNS, "leader-hub-bi-meta-old", "appeared", func(ep *corev1.Endpoints) bool { return endpointsLeaders(ep) == "m/10.55.1.1" })
		old, err := pools.Get(testContext(t, 10*time.Second), "bi-meta-old", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		old.Spec.PoolScopeMetadata = manyGVRs(3500)
		if _, err := pools.Update(testContext(t, 30*time.Second), old, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, "bi-meta-old", "PoolScopedMetadataTooLarge")
		if got := waitViewLeaders(t, "bi-meta-old", "m/10.55.1.1"); got.ResourceVersion != published.ResourceVersion {
			t.Errorf("the view dropped or changed the last good projection")
		}
		now, err := kubeClient(t).CoreV1().Endpoints(viewNS).Get(testContext(t, 10*time.Second), "leader-hub-bi-meta-old", metav1.GetOptions{})
		if err != nil || now.ResourceVersion != ep.ResourceVersion {
			t.Errorf("the published Endpoints changed: %v", err)
		}
		_, err = leaderHubClient(t, adminConfig(t)).LeaderhubV1alpha1().LeaderHubs(viewNS).Get(testContext(t, 10*time.Second), "leader-hub-bi-meta-new", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("the new pool with oversized metadata was published: %v", err)
		}
		healthy(t)
	})
	t.Run("pool names of maximum length", func(t *testing.T) {
		longest := strings.Repeat("l", 63) // the longest label value
		createPool(t, longest, leaders("l=10.56.0.1"))
		waitViewLeaders(t, longest, "l/10.56.0.1")
		waitEndpoints(t, viewNS, v1alpha1.ObjectName(longest), "appeared", func(*corev1.Endpoints) bool { return true })
		tooLong := strings.Repeat("t", 253) // the longest NodePool name
		createPool(t, tooLong, leaders("t=10.56.0.2"))
		if ev := waitEvent(t, tooLong, "InvalidPoolName"); !strings.Contains(ev.Message, "invalid") {
			t.Errorf("event %q", ev.Message)
		}
		healthy(t)
	})
	t.Run("list paging and unknown parameters", func(t *testing.T) {
		createPool(t, "bi-page", leaders("p=10.57.0.1"))
		waitViewLeaders(t, "bi-page", "p/10.57.0.1")
		rc := leaderHubClient(t, adminConfig(t)).LeaderhubV1alpha1().RESTClient()
		ctx := testContext(t, 30*time.Second)
		var list v1alpha1.LeaderHubList
		if err := rc.Get().Namespace(viewNS).Resource("leaderhubs").Param("limit", "1").Do(ctx).Into(&list); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) < 2 || list.Continue != "" {
			t.Errorf("limit=1: %d items, continue %q; want the complete list and no continue", len(list.Items), list.Continue)
		}
		if err := rc.Get().Namespace(viewNS).Resource("leaderhubs").Param("continue", "bm90LWEtdG9rZW4").Do(ctx).Error(); !apierrors.IsBadRequest(err) ||
			!strings.Contains(err.Error(), "continue tokens are not supported") {
			t.Errorf("continue: %v, want 400", err)
		}
		if err := rc.Get().Namespace(viewNS).Resource("leaderhubs").Param("limit", "many").Do(ctx).Error(); !apierrors.IsBadRequest(err) {
			t.Errorf("limit=many: %v, want 400", err)
		}
		// The API machinery validates list options as kube-apiserver does: 422.
		if err := rc.Get().Namespace(viewNS).Resource("leaderhubs").Param("resourceVersionMatch", "Exact").Do(ctx).Error(); !apierrors.IsInvalid(err) {
			t.Errorf("resourceVersionMatch without resourceVersion: %v, want 422", err)
		}
		if err := rc.Get().Namespace(viewNS).Resource("leaderhubs").Param("resourceVersion", "1").Param("resourceVersionMatch", "Exact").Do(ctx).Error(); !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
			t.Errorf("exact list at an old version: %v, want 410", err)
		}
		// 504 with Retry-After: 1, which client-go would retry; ask once.
		if err := rc.Get().MaxRetries(0).Namespace(viewNS).Resource("leaderhubs").Param("resourceVersion", "999999999").Do(ctx).Error(); !strings.Contains(fmt.Sprint(err), "Too large resource version") {
			t.Errorf("list at a future version: %v, want too large resource version", err)
		}
		if err := rc.Get().Namespace(viewNS).Resource("leaderhubs").Param("frobnicate", "yes").Do(ctx).Error(); err != nil {
			t.Errorf("unknown parameter: %v, want it ignored", err)
		}
		healthy(t)
	})
}
