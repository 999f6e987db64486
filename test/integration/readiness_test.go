package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/leaderhub/leaderhub/test/framework"
)

func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestReadyOnlyAfterNodePoolsSynced: a leaderhub that may not list NodePools
// serves (live) but is not ready, saying why; once RBAC lets it list, it
// becomes ready without a restart.
func TestReadyOnlyAfterNodePoolsSynced(t *testing.T) {
	ctx := testContext(t, 2*time.Minute)
	const user = "leaderhub-without-nodepools"
	kube, err := controlPlane.KubeClient()
	if err != nil {
		t.Fatal(err)
	}
	// Everything but NodePools: delegated authentication and authorization.
	for _, rb := range []*rbacv1.ClusterRoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: user + "-auth-delegator"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:auth-delegator"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: user}}},
	} {
		if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kube.RbacV1().RoleBindings("kube-system").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-auth-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "extension-apiserver-authentication-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: user}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lh, err := controlPlane.StartLeaderHub(ctx, framework.LeaderHubOptions{Name: "leaderhub-unsynced", User: user, NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lh.Process.Stop(10 * time.Second) }()
	client, err := lh.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	// Live, but not ready, for several seconds.
	deadline := time.Now().Add(5 * time.Second)
	live := false
	for time.Now().Before(deadline) {
		if resp, err := client.Get(lh.URL + "/livez"); err == nil {
			resp.Body.Close()
			live = live || resp.StatusCode == http.StatusOK
		}
		if live {
			code, body := get(t, client, lh.URL+"/readyz?verbose")
			if code == http.StatusOK {
				t.Fatalf("ready before it could list NodePools:\n%s", body)
			}
			if !strings.Contains(body, "[-]nodepool-view-synced failed") {
				t.Fatalf("/readyz does not say the view is unsynced:\n%s", body)
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !live {
		t.Fatalf("leaderhub never became live:\n%s", lh.Process.Tail(4096))
	}

	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-nodepools"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "leaderhub"},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: user}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := lh.WaitReady(ctx); err != nil {
		t.Fatalf("not ready after NodePools became listable: %v", err)
	}
}

// TestMetricsServed: /metrics, for an authorized caller, carries the view's
// own metrics next to the API server's.
func TestMetricsServed(t *testing.T) {
	lh := sharedView(t)
	cfg, err := lh.RESTConfigFor(controlPlane, "metrics-reader", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	np := createPool(t, "metrics", leaders("m1=10.7.0.1"))
	waitViewAt(t, np.ResourceVersion)
	code, body := get(t, client, lh.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, metric := range []string{"leaderhub_view_pools", "leaderhub_view_watchers", `leaderhub_view_events_total{type="ADDED"}`, `leaderhub_view_events_total{type="MODIFIED"}`, "apiserver_request_total"} {
		if !strings.Contains(body, metric) {
			t.Errorf("/metrics lacks %s", metric)
		}
	}
}
