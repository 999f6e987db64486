package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/leaderhub/leaderhub/test/framework"
)

// startNotReady starts a leaderhub without waiting for it to be ready, and
// returns it with a client for its health endpoints; the test stops it.
func startNotReady(t *testing.T, ctx context.Context, opts framework.LeaderHubOptions) (*framework.LeaderHub, *http.Client) {
	t.Helper()
	opts.NoWait = true
	lh, err := controlPlane.StartLeaderHub(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lh.Process.Stop(10 * time.Second) })
	client, err := lh.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	return lh, client
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
	// And the controller's objects and lease, in leaderhub's namespace.
	for _, role := range []string{"extension-apiserver-authentication-reader", "leaderhub"} {
		if _, err := kube.RbacV1().RoleBindings("kube-system").Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: user + "-" + role},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: "User", Name: user}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	lh, client := startNotReady(t, ctx, framework.LeaderHubOptions{Name: "leaderhub-unsynced", User: user})
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
	np := createPool(t, "metrics", leaders("m1=10.7.0.1"))
	waitViewAt(t, np.ResourceVersion)
	body := scrape(t, lh)
	for _, metric := range []string{"leaderhub_view_pools", "leaderhub_view_watchers", `leaderhub_view_events_total{type="ADDED"}`, `leaderhub_view_events_total{type="MODIFIED"}`, "apiserver_request_total"} {
		if !strings.Contains(body, metric) {
			t.Errorf("/metrics lacks %s", metric)
		}
	}
}

// TestReadyOnlyWhenTheControllerCanRun: a leaderhub that may not create the
// controller's Lease serves the view but is not ready, the named check says
// so, and its log says why; once RBAC allows it, it becomes ready without a
// restart.
func TestReadyOnlyWhenTheControllerCanRun(t *testing.T) {
	ctx := testContext(t, 2*time.Minute)
	const user, ns = "leaderhub-without-leases", "readyz-lease"
	kube := kubeClient(t)
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	subjects := []rbacv1.Subject{{Kind: "User", Name: user}}
	for _, role := range []string{"system:auth-delegator", "leaderhub"} {
		if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: user + "-" + role},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
			Subjects:   subjects}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kube.RbacV1().RoleBindings("kube-system").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-auth-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "extension-apiserver-authentication-reader"},
		Subjects:   subjects}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Its objects, but no Leases.
	if _, err := kube.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "objects-only"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"endpoints", "configmaps"},
			Verbs: []string{"get", "list", "watch", "create", "update", "delete"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "objects-only"},
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "objects-only"}, Subjects: subjects},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lh, client := startNotReady(t, ctx, framework.LeaderHubOptions{Name: "leaderhub-no-lease", User: user, Args: []string{"--namespace=" + ns}})
	var body string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		resp, err := client.Get(lh.URL + "/readyz?verbose")
		if err != nil {
			return false, nil // not serving yet
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(raw)
		if resp.StatusCode == http.StatusOK {
			return false, fmt.Errorf("ready though it cannot take the controller lease:\n%s", body)
		}
		// Everything else is ready: only the lease is missing.
		return strings.Contains(body, "[-]controller-lease failed") && strings.Contains(body, "[+]nodepool-view-synced ok") &&
			strings.Contains(body, "[+]controller-caches-synced ok"), nil
	})
	if err != nil {
		t.Fatalf("/readyz does not name the lease as what is missing: %v\n%s", err, body)
	}
	if log := lh.Process.Tail(1 << 20); !strings.Contains(log, "controller-lease") || !strings.Contains(log, "forbidden") {
		t.Errorf("the log does not say why the lease check fails:\n%s", lh.Process.Tail(4096))
	}

	if _, err := kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "leaderhub"},
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "leaderhub-leases"}, Subjects: subjects},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "leaderhub-leases"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := lh.WaitReady(ctx); err != nil {
		t.Fatalf("not ready once the lease was allowed: %v", err)
	}
}

// TestMisconfigurationExitsAtStart: a configuration that cannot work (a
// lease shorter than its renew deadline; an unknown lock type) stops the
// process before it serves, non-zero, with the reason.
func TestMisconfigurationExitsAtStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"lease shorter than renew deadline", []string{"--leader-elect-lease-duration=5s", "--leader-elect-renew-deadline=10s"},
			"leaseDuration must be greater than renewDeadline"},
		{"unknown lock", []string{"--leader-elect-resource-lock=configmapsleases-v0"}, "configmapsleases-v0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, time.Minute)
			lh, err := controlPlane.StartLeaderHub(ctx, framework.LeaderHubOptions{Name: "leaderhub-misconfigured", NoWait: true, Args: tc.args})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = lh.Process.Stop(5 * time.Second) }()
			code, exited := lh.Process.Wait(30 * time.Second)
			if !exited {
				t.Fatalf("still running 30s after start with %v", tc.args)
			}
			log := lh.Process.Tail(16384)
			if code == 0 || !strings.Contains(log, tc.want) {
				t.Errorf("exit code %d, log without %q:\n%s", code, tc.want, log)
			}
			if strings.Contains(log, "Serving securely") {
				t.Errorf("it served before exiting:\n%s", log)
			}
		})
	}
}
