package integration

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	openyurtclient "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned"
	"github.com/leaderhub/leaderhub/test/framework"
)

// release is the Helm release the chart test installs, and so the name of
// its objects (the chart's fullname).
const release = "leaderhub"

// TestHelmChart installs charts/leaderhub with helm into a control plane of
// its own (kube-apiserver with --enable-aggregator-routing, as clusters
// without kube-proxy on the control plane run it), then runs
// leaderhub-apiserver on loopback with the chart's container args, RBAC and
// generated certificate in place of the pod no kubelet can run here.
func TestHelmChart(t *testing.T) {
	ctx := testContext(t, 12*time.Minute)
	// With NodeRestriction, as clusters run it: a node writes only its own Node.
	cp := startOwnControlPlane(t, ctx, framework.Options{AggregatorRouting: true,
		APIServerArgs: []string{"--enable-admission-plugins=NodeRestriction"}})
	helm, err := cp.Helm(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := cp.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	kube := kubernetes.NewForConfigOrDie(cfg)

	// Every object the chart renders is accepted by kube-apiserver. The
	// NodePool CRD comes from the chart too (crds.install), as on a cluster
	// without OpenYurt.
	if _, err := helm.Run(ctx, "install", release, framework.ChartDir, "--namespace", "kube-system",
		"--set", "crds.install=true"); err != nil {
		t.Fatal(err)
	}
	manifest, err := helm.Run(ctx, "get", "manifest", release, "--namespace", "kube-system")
	if err != nil {
		t.Fatal(err)
	}
	names, err := cp.KubectlInput(ctx, []byte(manifest), "get", "-f", "-", "-o", "name")
	if err != nil {
		t.Fatalf("objects of the release missing: %v", err)
	}
	if got := len(strings.Fields(names)); got < 14 {
		t.Errorf("release has %d objects, want at least 14:\n%s", got, names)
	}
	if err := cp.WaitCRDsServed(ctx, "nodepools.apps.openyurt.io"); err != nil {
		t.Fatal(err)
	}

	deployment, err := kube.AppsV1().Deployments("kube-system").Get(ctx, release, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkPodSecurityRestricted(ctx, t, kube, deployment)

	// leaderhub-apiserver with the chart's args, certificate and RBAC (it
	// authenticates as the chart's service account), serving the chart's
	// Service through an EndpointSlice, as the endpoint controller would make
	// for a ready pod. IP endpoints may not be loopback addresses, so the
	// slice is of type FQDN, whose validation takes "127.0.0.1" as a name.
	secret, err := kube.CoreV1().Secrets("kube-system").Get(ctx, release+"-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{}
	for _, key := range []string{"ca.crt", "tls.crt", "tls.key"} {
		files[key] = filepath.Join(dir, key)
		if err := os.WriteFile(files[key], secret.Data[key], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	lh, err := cp.StartLeaderHub(ctx, framework.LeaderHubOptions{
		Name:     "leaderhub-chart",
		BaseArgs: deployment.Spec.Template.Spec.Containers[0].Args,
		Serving:  &framework.CertKeyPair{CertFile: files["tls.crt"], KeyFile: files["tls.key"]}, ServingCAFile: files["ca.crt"],
		SkipChartRBAC: true, ServiceAccount: release,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The Service's endpoint: the leaderhub just started, on loopback.
	port := lh.Port
	_, err = kube.DiscoveryV1().EndpointSlices("kube-system").Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: release + "-loopback", Labels: map[string]string{
			discoveryv1.LabelServiceName: release, discoveryv1.LabelManagedBy: "leaderhub-integration-test"}},
		AddressType: discoveryv1.AddressTypeFQDN,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"127.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(int32(port)), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// The chart's APIService, caBundle and all, becomes Available, and
	// kubectl reads LeaderHubs through it.
	if err := cp.WaitAPIServiceAvailable(ctx); err != nil {
		t.Fatal(err)
	}
	caBundle := apiServiceCABundle(ctx, t, cp)
	if want := base64.StdEncoding.EncodeToString(secret.Data["ca.crt"]); caBundle != want {
		t.Errorf("APIService caBundle is not the chart Secret's ca.crt")
	}
	pools := openyurtclient.NewForConfigOrDie(cfg).AppsV1beta2().NodePools()
	np, err := pools.Create(ctx, &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "chart-pool"},
		Spec: appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge, EnableLeaderElection: true, LeaderReplicas: 1}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	np.Status.LeaderEndpoints = leaders("edge-1=10.0.0.1")
	if _, err := pools.UpdateStatus(ctx, np, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var table string
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		table, err = cp.Kubectl(ctx, "get", "lh", "-n", "kube-system")
		return err == nil && strings.Contains(table, "leader-hub-chart-pool") && strings.Contains(table, "edge-1/10.0.0.1"), nil
	})
	if err != nil {
		t.Fatalf("kubectl get lh through the chart's APIService: %v\n%s\n%s", err, table, lh.Process.Tail(4096))
	}

	// helm upgrade with nothing changed keeps the certificate: the Secret is
	// not even written, and the caBundle stays.
	if _, err := helm.Run(ctx, "upgrade", release, framework.ChartDir, "--namespace", "kube-system", "--reuse-values"); err != nil {
		t.Fatal(err)
	}
	after, err := kube.CoreV1().Secrets("kube-system").Get(ctx, release+"-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != secret.ResourceVersion || string(after.Data["tls.crt"]) != string(secret.Data["tls.crt"]) {
		t.Errorf("helm upgrade rewrote the TLS Secret (resourceVersion %s -> %s)", secret.ResourceVersion, after.ResourceVersion)
	}
	if got := apiServiceCABundle(ctx, t, cp); got != caBundle {
		t.Errorf("helm upgrade changed the APIService caBundle")
	}

	checkMetricsReader(ctx, t, cp, kube, helm, lh)
	checkVariantsAccepted(ctx, t, cp, helm)
	// Stopped, so that nothing but the checks writes leaderhub's objects.
	if err := lh.Process.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	checkLeastPrivilege(ctx, t, cp, helm)
}

// checkVariantsAccepted: with the CRDs of prometheus-operator and
// cert-manager installed (hack/build-tools.sh third-party-crds), kube-apiserver
// accepts every object the chart renders for each values file under
// charts/leaderhub/ci, ServiceMonitor, PrometheusRule, Issuer and Certificate
// included (a server-side dry run: nothing is changed).
func checkVariantsAccepted(ctx context.Context, t *testing.T, cp *framework.ControlPlane, helm *framework.Helm) {
	t.Helper()
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	crds := filepath.Join(root, "_output", "crds")
	if _, err := os.Stat(filepath.Join(crds, ".stamp")); err != nil {
		t.Fatalf("third-party CRDs missing: run `hack/build-tools.sh third-party-crds` (make test does): %v", err)
	}
	if _, err := cp.Kubectl(ctx, "apply", "--server-side", "-f", crds); err != nil {
		t.Fatal(err)
	}
	if err := cp.WaitCRDsServed(ctx, "servicemonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com",
		"issuers.cert-manager.io", "clusterissuers.cert-manager.io", "certificates.cert-manager.io"); err != nil {
		t.Fatal(err)
	}
	variants, err := filepath.Glob(filepath.Join(root, framework.ChartDir, "ci", "*-values.yaml"))
	if err != nil || len(variants) < 4 {
		t.Fatalf("values variants: %v %v", variants, err)
	}
	for _, values := range variants {
		rendered, err := helm.Run(ctx, "template", release, framework.ChartDir, "--namespace", "kube-system", "-f", values)
		if err != nil {
			t.Fatal(err)
		}
		out, err := cp.KubectlInput(ctx, []byte(rendered), "apply", "--dry-run=server", "-f", "-")
		if err != nil {
			t.Errorf("%s: kube-apiserver rejects the rendering: %v", filepath.Base(values), err)
			continue
		}
		t.Logf("%s: %d objects accepted", filepath.Base(values), strings.Count(out, "(server dry run)"))
	}
}

func apiServiceCABundle(ctx context.Context, t *testing.T, cp *framework.ControlPlane) string {
	t.Helper()
	caBundle, err := cp.APIServiceCABundle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if caBundle == "" {
		t.Fatal("APIService has no caBundle")
	}
	return caBundle
}

// checkPodSecurityRestricted: kube-apiserver's PodSecurity admission, told to
// enforce "restricted" in kube-system, admits a pod made from the chart's
// Deployment (created as a dry run).
func checkPodSecurityRestricted(ctx context.Context, t *testing.T, kube kubernetes.Interface, d *appsv1.Deployment) {
	t.Helper()
	namespaces := kube.CoreV1().Namespaces()
	ns, err := namespaces.Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	if _, err := namespaces.Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pss-check", Namespace: "kube-system", Labels: d.Spec.Template.Labels},
		Spec: d.Spec.Template.Spec}
	if _, err := kube.CoreV1().Pods("kube-system").Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("a pod of the chart's Deployment violates Pod Security \"restricted\": %v", err)
	}
}

// checkMetricsReader: /metrics answers 403 to a service account without the
// chart's leaderhub-metrics-reader role, and 200 (with leaderhub_build_info)
// once the chart binds it (metrics.readerServiceAccounts); the admin gets 200.
func checkMetricsReader(ctx context.Context, t *testing.T, cp *framework.ControlPlane, kube kubernetes.Interface, helm *framework.Helm, lh *framework.LeaderHub) {
	t.Helper()
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "monitoring"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ServiceAccounts("monitoring").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "prometheus"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token, err := kube.CoreV1().ServiceAccounts("monitoring").CreateToken(ctx, "prometheus",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(lh.CA.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	prometheus, err := rest.HTTPClientFor(&rest.Config{Host: lh.URL, BearerToken: token.Status.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM, ServerName: framework.ServingDNSName}})
	if err != nil {
		t.Fatal(err)
	}
	adminCfg, err := lh.RESTConfigFor(cp, "metrics-admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := rest.HTTPClientFor(adminCfg)
	if err != nil {
		t.Fatal(err)
	}
	scrape := func(client *http.Client) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, lh.URL+"/metrics", nil)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	const buildInfo = "leaderhub_build_info{"
	if code, body := scrape(admin); code != http.StatusOK || !strings.Contains(body, buildInfo) {
		t.Errorf("admin: /metrics %d, build info present %v", code, strings.Contains(body, buildInfo))
	}
	if code, body := scrape(prometheus); code != http.StatusForbidden {
		t.Errorf("service account without the role: /metrics %d, want 403: %.200s", code, body)
	}

	if _, err := helm.Run(ctx, "upgrade", release, framework.ChartDir, "--namespace", "kube-system", "--reuse-values",
		"--set", "metrics.readerServiceAccounts[0].name=prometheus", "--set", "metrics.readerServiceAccounts[0].namespace=monitoring"); err != nil {
		t.Fatal(err)
	}
	// leaderhub caches the denial for up to 10s (delegated authorization).
	var code int
	var body string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		code, body = scrape(prometheus)
		return code == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("bound to leaderhub-metrics-reader: /metrics still %d: %.200s", code, body)
	}
	if !strings.Contains(body, buildInfo) {
		t.Errorf("/metrics has no %s...}", buildInfo)
	}
	t.Logf("build info: %s", lineWith(body, buildInfo))
}

func lineWith(text, prefix string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}
