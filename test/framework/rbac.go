package framework

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// DefaultServiceAccount is the ServiceAccount a leaderhub started with the
// default name runs as: the chart's, for `helm install leaderhub`.
const DefaultServiceAccount = "leaderhub"

// ServiceAccountUser is the username of a ServiceAccount in
// LeaderHubNamespace, the release namespace the chart is rendered for.
func ServiceAccountUser(serviceAccount string) string {
	return "system:serviceaccount:" + LeaderHubNamespace + ":" + serviceAccount
}

// serviceAccountGroups are the groups kube-apiserver gives a ServiceAccount
// of LeaderHubNamespace.
var serviceAccountGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + LeaderHubNamespace}

// sharedRBAC are the chart's objects every release renders alike, whatever
// its fullname: the readers' roles and bindings. A test cluster runs many
// leaderhubs, each with the chart's RBAC of its own configuration; these are
// created once, by the first, and left as they are.
var sharedRBAC = []string{"leaderhub-reader", "leaderhub-node-reader", "leaderhub-edge-reader", "leaderhub-metrics-reader"}

// chartPolicyTemplates are the chart's templates that hold what a leaderhub
// is allowed: its RBAC and the admission policies that narrow it.
var chartPolicyTemplates = []string{"templates/rbac.yaml", "templates/admissionpolicies.yaml"}

// ApplyChartRBAC renders the chart's RBAC and admission policies for a
// release whose fullname is serviceAccount, with the values that make the
// chart's Deployment run leaderhub-apiserver with args (--namespace,
// --materialize, --controllers, --leader-elect, --leader-elect-resource-name;
// the chart's defaults otherwise), and applies them. So a leaderhub started
// with args runs with exactly what the chart grants that configuration.
func (cp *ControlPlane) ApplyChartRBAC(ctx context.Context, serviceAccount string, args []string) error {
	helm, err := cp.Helm(filepath.Join(cp.Dir, "helm"))
	if err != nil {
		return err
	}
	render := append([]string{"template", DefaultServiceAccount, ChartDir, "--namespace", LeaderHubNamespace,
		"--set-string", "fullnameOverride=" + serviceAccount}, chartValuesFor(args)...)
	for _, t := range chartPolicyTemplates {
		render = append(render, "--show-only", t)
	}
	rendered, err := helm.Run(ctx, render...)
	if err != nil {
		return fmt.Errorf("rendering the chart's RBAC for %s: %w", serviceAccount, err)
	}
	objs, err := decodeObjects([]byte(rendered))
	if err != nil {
		return err
	}
	var own []byte
	var shared []*unstructured.Unstructured
	for _, obj := range objs {
		if slices.Contains(sharedRBAC, obj.GetName()) {
			shared = append(shared, obj)
			continue
		}
		data, err := yaml.Marshal(obj.Object)
		if err != nil {
			return err
		}
		own = append(append(own, "---\n"...), data...)
	}
	if err := cp.createAbsent(ctx, shared); err != nil {
		return err
	}
	if out, err := cp.KubectlInput(ctx, own, "apply", "-f", "-"); err != nil {
		return fmt.Errorf("applying the chart's RBAC for %s: %w\n%s", serviceAccount, err, out)
	}
	return nil
}

// chartValuesFor turns leaderhub-apiserver flags into the chart values that
// render them (the last of a repeated flag wins, as pflag has it).
func chartValuesFor(args []string) []string {
	flags := map[string]string{}
	for _, a := range args {
		if name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "="); ok && strings.HasPrefix(a, "--") {
			flags[name] = value
		}
	}
	var values []string
	set := func(key, value string) { values = append(values, "--set-string", key+"="+value) }
	if v, ok := flags["namespace"]; ok {
		set("leaderHubNamespace", v)
	}
	if v, ok := flags["controllers"]; ok {
		set("controllers", v)
	}
	if v, ok := flags["leader-elect-resource-name"]; ok {
		set("leaderElection.resourceName", v)
	}
	if v, ok := flags["leader-elect"]; ok {
		values = append(values, "--set", "leaderElection.enabled="+v)
	}
	if v, ok := flags["materialize"]; ok {
		values = append(values, "--set", "materialize={"+v+"}")
	}
	return values
}

// createAbsent creates each object that does not exist yet.
func (cp *ControlPlane) createAbsent(ctx context.Context, objs []*unstructured.Unstructured) error {
	if len(objs) == 0 {
		return nil
	}
	client, err := cp.dynamicClient()
	if err != nil {
		return err
	}
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		// RBAC kinds all: the resource is the kind's plural in lower case.
		gvr := schema.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: strings.ToLower(gvk.Kind) + "s"}
		var ri dynamic.ResourceInterface = client.Resource(gvr)
		if ns := obj.GetNamespace(); ns != "" {
			ri = client.Resource(gvr).Namespace(ns)
		}
		if _, err := ri.Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s %s: %w", gvk.Kind, obj.GetName(), err)
		}
	}
	return nil
}

var (
	helmOnce sync.Once
	helmErr  error
)

// buildHelm builds the pinned helm into binDir once per process with
// hack/build-tools.sh (a no-op when it is up to date), for the chart's RBAC.
func buildHelm(binDir string) error {
	helmOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			helmErr = err
			return
		}
		cmd := exec.Command(filepath.Join(root, "hack", "build-tools.sh"), "helm")
		cmd.Env = append(cmd.Environ(), "BIN_DIR="+binDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			helmErr = fmt.Errorf("building helm: %w\n%s", err, out)
		}
	})
	return helmErr
}
