package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/leaderhub/leaderhub/test/framework"
)

// yurtManagerControllers are upstream OpenYurt v1.7.0's yurt-manager
// controllers, alias to name (cmd/yurt-manager/names/controller_names.go);
// none is disabled by default (pkg/yurtmanager/controller/base, an empty
// ControllersDisabledByDefault).
var yurtManagerControllers = map[string]string{
	"csrapprover": "csr-approver-controller", "daemonpodupdater": "daemon-pod-updater-controller",
	"nodepool": "nodepool-controller", "platformadmin": "platform-admin-controller",
	"servicetopologyendpoints":      "service-topology-endpoints-controller",
	"servicetopologyendpointslices": "service-topology-endpointslice-controller",
	"yurtappset":                    "yurt-app-set-controller", "yurtstaticset": "yurt-static-set-controller",
	"delegatelease": "delegate-lease-controller", "podbinding": "pod-binding-controller",
	"gatewaypickup": "gateway-pickup-controller", "gatewayinternalservice": "gateway-internal-service-controller",
	"gatewaypublicservice": "gateway-public-service-controller", "gatewaydns": "gateway-dns-controller",
	"nodelifecycle": "node-life-cycle-controller", "nodebucket": "node-bucket-controller",
	"yurtnodeconversion": "yurt-node-conversion-controller", "loadbalancerset": "load-balancer-set-controller",
	"hubleader": "hubleader-controller", "hubleaderconfig": "hubleaderconfig-controller",
	"hubleaderrbac": "hubleaderrbac-controller", "imagepreheat": "image-preheat-controller",
}

// yurtManagerEnabled is the set of controllers yurt-manager runs with a
// --controllers value: aliases become names (with their "-"), then, as
// k8s.io/controller-manager's IsControllerEnabled decides, the first entry
// naming a controller wins, and "*" enables the rest.
func yurtManagerEnabled(value string) map[string]bool {
	var entries []string
	for _, e := range strings.Split(value, ",") {
		off := strings.HasPrefix(e, "-")
		name := strings.TrimPrefix(e, "-")
		if canonical, ok := yurtManagerControllers[name]; ok {
			name = canonical
		}
		if off {
			name = "-" + name
		}
		entries = append(entries, name)
	}
	enabled := map[string]bool{}
	for _, name := range yurtManagerControllers {
		on, decided := false, false
		for _, e := range entries {
			if e == name || e == "-"+name {
				on, decided = e == name, true
				break
			}
		}
		if !decided {
			on = slices.Contains(entries, "*")
		}
		enabled[name] = on
	}
	return enabled
}

// readmeSnippet is the shell the README gives between its markers.
func readmeSnippet(t *testing.T, marker string) string {
	t.Helper()
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- "+marker+":begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- "+marker+":end -->")
	if !ok || !ok2 {
		t.Fatalf("README.md has no %s block", marker)
	}
	block = strings.TrimSpace(block)
	block = strings.TrimPrefix(block, "```sh")
	return strings.TrimSuffix(block, "```")
}

// TestYurtManagerControllers runs the README's commands for switching
// yurt-manager's writers off, with the real helm, against a release of a
// stand-in for yurt-manager's v1.7.0 chart: with the chart's default
// controllers value (-nodelifecycle,*) and with a customized one (an entry
// that names hubleaderconfig first, which a mere appended "-hubleaderconfig"
// would not override). Only the named controllers go from on to off; every
// other value and the chart version stay; the upstream ConfigMaps get the
// managed-by label.
func TestYurtManagerControllers(t *testing.T) {
	ctx := testContext(t, 3*time.Minute)
	snippet := readmeSnippet(t, "yurt-manager-controllers")
	if !strings.Contains(snippet, `OFF="hubleaderconfig"`) {
		t.Fatalf("the README's commands no longer set OFF=\"hubleaderconfig\":\n%s", snippet)
	}
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(root, "test", "integration", "testdata", "yurt-manager")
	home := t.TempDir()
	helm, err := controlPlane.Helm(home)
	if err != nil {
		t.Fatal(err)
	}
	kube := kubeClient(t)
	for _, tc := range []struct {
		name, controllers, off string
	}{
		{"chart default", "", "hubleaderconfig"},
		{"customized with the elector", "hubleaderconfig-controller,-nodelifecycle,*,-yurtappset,nodebucket", "hubleaderconfig hubleader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"install", "yurt-manager", chart, "-n", "kube-system", "--set-string", "image.tag=v1.7.0-custom"}
			if tc.controllers != "" {
				values := filepath.Join(t.TempDir(), "values.yaml")
				if err := os.WriteFile(values, []byte(fmt.Sprintf("controllers: %q\n", tc.controllers)), 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, "-f", values)
			}
			if out, err := helm.Run(ctx, args...); err != nil {
				t.Fatalf("helm install: %v\n%s", err, out)
			}
			t.Cleanup(func() { _, _ = helm.Run(context.Background(), "uninstall", "yurt-manager", "-n", "kube-system") })
			before := releaseValues(t, ctx, helm)
			// yurt-manager's ConfigMap of a pool, then the pool. Once handed
			// over, the shared leaderhub (which writes ConfigMaps in
			// kube-system) keeps it; it would delete a leaderhub ConfigMap
			// whose pool does not exist.
			cm, err := kube.CoreV1().ConfigMaps("kube-system").Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: "leader-hub-ym-pool", Labels: map[string]string{"openyurt.io/configmap-name": "leader-hub-ym-pool"}},
				Data:       map[string]string{"leaders": "a/10.70.0.1"}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = kube.CoreV1().ConfigMaps("kube-system").Delete(context.Background(), cm.Name, metav1.DeleteOptions{})
			})
			createPool(t, "ym-pool", leaders("a=10.70.0.1"))

			script := strings.Replace(snippet, `OFF="hubleaderconfig"`, fmt.Sprintf("OFF=%q", tc.off), 1)
			cmd := exec.CommandContext(ctx, "bash", "-c", "set -o errexit -o nounset -o pipefail\n"+script)
			cmd.Dir = t.TempDir()
			cmd.Env = append(helm.Env(), "PATH="+controlPlane.BinDir+":"+os.Getenv("PATH"),
				"YURT_MANAGER_CHART="+chart)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the README's commands: %v\n%s", err, out)
			}
			after := releaseValues(t, ctx, helm)

			beforeValue, _ := before["controllers"].(string)
			afterValue, _ := after["controllers"].(string)
			was, is := yurtManagerEnabled(beforeValue), yurtManagerEnabled(afterValue)
			var changed []string
			for name := range was {
				if was[name] != is[name] {
					changed = append(changed, fmt.Sprintf("%s %t->%t", name, was[name], is[name]))
				}
			}
			slices.Sort(changed)
			var want []string
			for _, alias := range strings.Fields(tc.off) {
				want = append(want, yurtManagerControllers[alias]+" true->false")
			}
			slices.Sort(want)
			if !slices.Equal(changed, want) {
				t.Errorf("controllers %q -> %q changed %v, want exactly %v", beforeValue, afterValue, changed, want)
			}
			delete(before, "controllers")
			delete(after, "controllers")
			if !maps.EqualFunc(before, after, func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
				t.Errorf("other values changed: %v -> %v", before, after)
			}
			rendered, err := kube.CoreV1().ConfigMaps("kube-system").Get(ctx, "yurt-manager-args", metav1.GetOptions{})
			if err != nil || rendered.Data["image"] != "openyurt/yurt-manager:v1.7.0-custom" ||
				rendered.Data["controllers"] != "--controllers="+afterValue {
				t.Errorf("yurt-manager would run with %v (%v)", rendered.Data, err)
			}
			labeled, err := kube.CoreV1().ConfigMaps("kube-system").Get(ctx, cm.Name, metav1.GetOptions{})
			if err != nil || labeled.Labels["app.kubernetes.io/managed-by"] != "leaderhub" {
				t.Errorf("the upstream ConfigMap was not handed over: %v (%v)", labeled.Labels, err)
			}
			t.Logf("%s", strings.TrimSpace(string(out)))
		})
	}
}

// releaseValues are the yurt-manager release's values, computed ones
// included, and its chart version under the key "chart".
func releaseValues(t *testing.T, ctx context.Context, helm *framework.Helm) map[string]any {
	t.Helper()
	out, err := helm.Run(ctx, "get", "values", "yurt-manager", "-n", "kube-system", "--all", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := json.Unmarshal([]byte(out), &values); err != nil {
		t.Fatalf("helm get values: %v\n%s", err, out)
	}
	meta, err := helm.Run(ctx, "get", "metadata", "yurt-manager", "-n", "kube-system", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal([]byte(meta), &m); err != nil {
		t.Fatal(err)
	}
	values["chart"] = m.Version
	return values
}
