package integration

import (
	"context"
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
	framework.StopOnCleanup(t, lh.Process, 10*time.Second)
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
	// The chart's roles for a leaderhub's default flags, named after user.
	if err := controlPlane.ApplyChartRBAC(ctx, user, nil); err != nil {
		t.Fatal(err)
	}
	// Everything but NodePools: delegated authentication and authorization.
	createClusterRoleBinding(t, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user + "-auth-delegator"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: user}}})
	// And the controller's objects and lease, in leaderhub's namespace.
	for _, role := range []string{"extension-apiserver-authentication-reader", user} {
		createRoleBinding(t, "kube-system", &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: user + "-" + role},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: "User", Name: user}}})
	}
	lh, client := startNotReady(t, ctx, framework.LeaderHubOptions{Name: "leaderhub-unsynced", User: user})
	// Live, and then not ready, with the reason, for as long as we look.
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		resp, err := client.Get(lh.URL + "/livez")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("leaderhub never became live:\n%s", lh.Process.Tail(4096))
	}
	for range 8 {
		code, body := get(t, client, lh.URL+"/readyz?verbose")
		if code == http.StatusOK {
			t.Fatalf("ready before it could list NodePools:\n%s", body)
		}
		if !strings.Contains(body, "[-]nodepool-view-synced failed") {
			t.Fatalf("/readyz does not say the view is unsynced:\n%s", body)
		}
		time.Sleep(250 * time.Millisecond)
	}

	createClusterRoleBinding(t, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-nodepools"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: user},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: user}}})
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

// TestLeaseErrorsKeepTheViewReady: a leaderhub that may not read or write
// the controller's Lease is ready all the same and serves the view (every
// replica reads the same Lease, so one RBAC or API error must not take them
// all, and the APIService, out of service); it runs no controller,
// leaderhub_controller_lease_failing and its log say why, and once RBAC
// allows the Lease it takes it and runs the controllers, without a restart.
func TestLeaseErrorsKeepTheViewReady(t *testing.T) {
	ctx := testContext(t, 2*time.Minute)
	const user = "leaderhub-without-leases"
	ns := freshNamespace(t, "readyz-lease")
	kube := kubeClient(t)
	subjects := []rbacv1.Subject{{Kind: "User", Name: user}}
	// The chart's ClusterRole for a leaderhub's default flags, named after user.
	if err := controlPlane.ApplyChartRBAC(ctx, user, nil); err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"system:auth-delegator", user} {
		createClusterRoleBinding(t, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: user + "-" + role},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
			Subjects:   subjects})
	}
	createRoleBinding(t, "kube-system", &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-user-auth-reader"}, // the chart names its own <fullname>-auth-reader
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "extension-apiserver-authentication-reader"},
		Subjects:   subjects})
	// Its objects, but no Leases.
	if _, err := kube.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "objects-only"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"endpoints", "configmaps"},
			Verbs: []string{"get", "list", "watch", "create", "update", "delete"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createRoleBinding(t, ns, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "objects-only"},
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "objects-only"}, Subjects: subjects})
	lh, err := controlPlane.StartLeaderHub(ctx, framework.LeaderHubOptions{Name: "leaderhub-no-lease", User: user,
		Args: []string{"--namespace=" + ns, "--leader-elect-retry-period=500ms"}})
	if err != nil {
		t.Fatalf("not ready without the controller lease: %v", err)
	}
	framework.StopOnCleanup(t, lh.Process, 10*time.Second)
	client, err := lh.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, client, lh.URL+"/readyz?verbose"); code != http.StatusOK || strings.Contains(body, "lease") {
		t.Errorf("/readyz without the controller lease: %d\n%s", code, body)
	}
	const failing, leader = "leaderhub_controller_lease_failing", "leaderhub_controller_leader"
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return metricValue(t, lh, failing) == 1, nil
	})
	if err != nil {
		t.Fatalf("%s never became 1 without RBAC for Leases", failing)
	}
	if v := metricValue(t, lh, leader); v != 0 {
		t.Errorf("%s = %v without the lease", leader, v)
	}
	if log := lh.Process.Tail(1 << 20); !strings.Contains(log, "Cannot read or write the controller lease") || !strings.Contains(log, "forbidden") {
		t.Errorf("the log does not say why the controllers do not run:\n%s", lh.Process.Tail(4096))
	}
	// It serves the view meanwhile.
	np := createPool(t, "nolease", leaders("nl=10.18.0.1"))
	cfg, err := lh.RESTConfigFor(controlPlane, "lease-viewer", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaderHubClient(t, cfg).LeaderhubV1alpha1().LeaderHubs(viewNS).List(ctx,
		metav1.ListOptions{ResourceVersion: np.ResourceVersion}); err != nil {
		t.Errorf("the view without the controller lease: %v", err)
	}

	createClusterRole(t, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "leaderhub-leases"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}}}})
	createRoleBinding(t, ns, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "leaderhub"},
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "leaderhub-leases"}, Subjects: subjects})
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return metricValue(t, lh, failing) == 0 && metricValue(t, lh, leader) == 1, nil
	})
	if err != nil {
		t.Fatalf("once the lease was allowed: %s %v, %s %v; want 0 and 1", failing, metricValue(t, lh, failing), leader, metricValue(t, lh, leader))
	}
	waitEndpoints(t, ns, "leader-hub-nolease", "written once the controllers ran", func(ep *corev1.Endpoints) bool {
		return endpointsLeaders(ep) == "nl/10.18.0.1"
	})
}

// createClusterRoleBinding, createClusterRole and createRoleBinding create
// RBAC objects that the test deletes when it ends, so a later run (go test
// -count=2) can create them again.
func createClusterRoleBinding(t *testing.T, b *rbacv1.ClusterRoleBinding) {
	t.Helper()
	client := kubeClient(t).RbacV1().ClusterRoleBindings()
	if _, err := client.Create(testContext(t, 10*time.Second), b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Delete(context.Background(), b.Name, metav1.DeleteOptions{}) })
}

func createClusterRole(t *testing.T, r *rbacv1.ClusterRole) {
	t.Helper()
	client := kubeClient(t).RbacV1().ClusterRoles()
	if _, err := client.Create(testContext(t, 10*time.Second), r, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Delete(context.Background(), r.Name, metav1.DeleteOptions{}) })
}

func createRoleBinding(t *testing.T, ns string, b *rbacv1.RoleBinding) {
	t.Helper()
	client := kubeClient(t).RbacV1().RoleBindings(ns)
	if _, err := client.Create(testContext(t, 10*time.Second), b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Delete(context.Background(), b.Name, metav1.DeleteOptions{}) })
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
