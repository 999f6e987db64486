package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/controller/manager"
	"github.com/leaderhub/leaderhub/pkg/controller/materialize"
	openyurtclient "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned"
	"github.com/leaderhub/leaderhub/test/framework"
)

// Messages of the chart's admission policies a denial must carry.
const (
	notLeaderHubs    = "is not leaderhub's"
	notOneItMayWrite = "is not one leaderhub may write"
	notItsLease      = "may write only its own Lease"
	notTheNodes      = "may not add, change or remove its apps.openyurt.io/nodepool label"
	noSelfDelete     = "a node may not delete its Node"
)

// What a request must get, for expectAccess: let through (allowed), or a
// 403 Forbidden whose message holds a text (anyDenial: any 403).
const (
	allowed   = "<allowed>"
	anyDenial = ""
)

// expectAccess makes a request until it gets want (RBAC and admission
// policies reach kube-apiserver's authorizer and admission a moment after
// they are written), as a server-side dry run, then once for real, which
// must get the same. NotFound and AlreadyExists count as let through: they
// come after authorization and admission.
func expectAccess(ctx context.Context, t *testing.T, what, want string, do func(dryRun []string) error) {
	t.Helper()
	matches := func(err error) bool {
		if want == allowed {
			return err == nil || apierrors.IsNotFound(err) || apierrors.IsAlreadyExists(err)
		}
		return apierrors.IsForbidden(err) && strings.Contains(err.Error(), want)
	}
	var last error
	if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		last = do([]string{metav1.DryRunAll})
		return matches(last), nil
	}); err != nil {
		t.Errorf("%s (dry run): got %v, want %s", what, last, describe(want))
		return
	}
	if err := do(nil); !matches(err) {
		t.Errorf("%s: got %v, want %s", what, err, describe(want))
	}
}

func describe(want string) string {
	switch want {
	case allowed:
		return "it allowed"
	case anyDenial:
		return "403 Forbidden"
	}
	return fmt.Sprintf("403 Forbidden saying %q", want)
}

// checkLeastPrivilege: with the chart's defaults and with each values
// variant installed, acting as the chart's ServiceAccount (impersonated),
// leaderhub writes its own objects of each form it materializes, and only
// those: no object of a form it does not write, nothing of someone else's in
// its namespace (a DNS server's ConfigMap, another component's Endpoints and
// Lease, an unlabeled object with a LeaderHub's name), nothing named or
// labeled as another pool's, nothing elsewhere, no Lease but its own, and
// NodePool status only with the elector. Nodes cannot move themselves
// between pools; admins can.
func checkLeastPrivilege(ctx context.Context, t *testing.T, cp *framework.ControlPlane, helm *framework.Helm) {
	t.Helper()
	admin := kubernetes.NewForConfigOrDie(configAs(t, cp, false))
	ns := framework.LeaderHubNamespace
	// Someone else's objects in leaderhub's namespace.
	corefile := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "coredns"}, Data: map[string]string{"Corefile": ".:53 { forward . /etc/resolv.conf }"}}
	unlabeled := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.ObjectName("lp-foreign"),
		Labels: map[string]string{v1alpha1.LabelPoolName: "lp-foreign"}}, Data: map[string]string{"leaders": "someone/10.0.0.9"}}
	for _, cm := range []*corev1.ConfigMap{corefile, unlabeled} {
		if _, err := admin.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.CoreV1().Endpoints(ns).Create(ctx, &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoordinationV1().Leases(ns).Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "kube-controller-manager"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("kcm-1")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Stock RBAC does not let a node delete its Node; some clusters grant it
	// (a self-deleter role, for nodes that deregister on shutdown), and the
	// policy must hold there too.
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "node-self-deleter"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"delete"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "node-self-deleter"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "node-self-deleter"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:nodes"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	checkNodePoolLabel(ctx, t, cp, admin, true)

	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	variants, err := filepath.Glob(filepath.Join(root, framework.ChartDir, "ci", "*-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, values := range append([]string{""}, variants...) {
		name := strings.TrimSuffix(filepath.Base(values), "-values.yaml")
		args := []string{"upgrade", release, framework.ChartDir, "--namespace", "kube-system", "--reset-values", "--set", "crds.install=true"}
		if values == "" {
			name = "defaults"
		} else {
			args = append(args, "-f", values)
		}
		t.Run(name, func(t *testing.T) {
			if _, err := helm.Run(ctx, args...); err != nil {
				t.Fatal(err)
			}
			deployment, err := admin.AppsV1().Deployments("kube-system").Get(ctx, release, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkServiceAccountWrites(ctx, t, cp, deployment.Spec.Template.Spec.Containers[0].Args)
		})
	}

	// Someone else's objects are as they were.
	if cm, err := admin.CoreV1().ConfigMaps(ns).Get(ctx, corefile.Name, metav1.GetOptions{}); err != nil || cm.Data["Corefile"] != corefile.Data["Corefile"] {
		t.Errorf("ConfigMap coredns: %v, %v", err, cm.Data)
	}
	if cm, err := admin.CoreV1().ConfigMaps(ns).Get(ctx, unlabeled.Name, metav1.GetOptions{}); err != nil || len(cm.Labels) != 1 || cm.Data["leaders"] != unlabeled.Data["leaders"] {
		t.Errorf("ConfigMap %s: %v, %v %v", unlabeled.Name, err, cm.Labels, cm.Data)
	}
	if _, err := admin.CoreV1().Endpoints(ns).Get(ctx, "kube-dns", metav1.GetOptions{}); err != nil {
		t.Errorf("Endpoints kube-dns: %v", err)
	}
	if l, err := admin.CoordinationV1().Leases(ns).Get(ctx, "kube-controller-manager", metav1.GetOptions{}); err != nil || ptr.Deref(l.Spec.HolderIdentity, "") != "kcm-1" {
		t.Errorf("Lease kube-controller-manager: %v, holder %v", err, l.Spec.HolderIdentity)
	}

	// Turned off, the pool label policy lets nodes relabel themselves.
	if _, err := helm.Run(ctx, "upgrade", release, framework.ChartDir, "--namespace", "kube-system", "--reset-values",
		"--set", "crds.install=true", "--set", "admissionPolicies.nodePoolLabel.enabled=false"); err != nil {
		t.Fatal(err)
	}
	checkNodePoolLabel(ctx, t, cp, admin, false)
}

// configAs is cp's admin configuration, impersonating the release's
// ServiceAccount if asServiceAccount.
func configAs(t *testing.T, cp *framework.ControlPlane, asServiceAccount bool) *rest.Config {
	t.Helper()
	cfg, err := cp.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	if asServiceAccount {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: framework.ServiceAccountUser(release),
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}}
	}
	return cfg
}

// flagValue is the value of --name=value in args ("" if absent).
func flagValue(args []string, name string) string {
	value := ""
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			value = v
		}
	}
	return value
}

// namespacedClient is what the checks use of a typed client-go client of
// objects T in one namespace.
type namespacedClient[T interface {
	runtime.Object
	metav1.Object
}] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// writable is one resource leaderhub may write, as the checks write it:
// create makes an object of that name and labels in a namespace, update
// and remove change and delete one in the checked namespace.
type writable struct {
	name   string
	form   materialize.Form
	suffix string
	create func(ns, name string, labels map[string]string, dryRun []string) error
	update func(name string, dryRun []string) error
	remove func(name string, dryRun []string) error
}

// writableOf writes objects T as (the ServiceAccount), reading them first as
// admin (what leaderhub may read is not what is checked), in namespace ns.
func writableOf[T interface {
	runtime.Object
	metav1.Object
}](ctx context.Context, name string, form materialize.Form, suffix, ns string, as, admin func(ns string) namespacedClient[T],
	newObject func(name string, labels map[string]string) T) writable {
	return writable{name: name, form: form, suffix: suffix,
		create: func(inNS, name string, labels map[string]string, dryRun []string) error {
			_, err := as(inNS).Create(ctx, newObject(name, labels), metav1.CreateOptions{DryRun: dryRun})
			return err
		},
		update: func(name string, dryRun []string) error {
			obj, err := admin(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			obj.SetAnnotations(map[string]string{"leaderhub.test/touched": time.Now().String()})
			_, err = as(ns).Update(ctx, obj, metav1.UpdateOptions{DryRun: dryRun})
			return err
		},
		remove: func(name string, dryRun []string) error {
			return as(ns).Delete(ctx, name, metav1.DeleteOptions{DryRun: dryRun})
		}}
}

// checkServiceAccountWrites checks, as the release's ServiceAccount, what
// the chart lets leaderhub-apiserver with the Deployment's args write.
func checkServiceAccountWrites(ctx context.Context, t *testing.T, cp *framework.ControlPlane, args []string) {
	t.Helper()
	materializeOn, hubLeaderOn, err := manager.ParseControllers(strings.Split(flagValue(args, "controllers"), ","))
	if err != nil {
		t.Fatal(err)
	}
	forms, err := materialize.ParseForms(strings.Split(flagValue(args, "materialize"), ","))
	if err != nil {
		t.Fatal(err)
	}
	writes := func(f materialize.Form) bool { return materializeOn && slices.Contains(forms, f) }
	leaseOn, lease, ns := flagValue(args, "leader-elect") == "true", flagValue(args, "leader-elect-resource-name"), flagValue(args, "namespace")
	t.Logf("controllers %q, forms %v, controller lease %v (%s), namespace %s", flagValue(args, "controllers"), forms, leaseOn, lease, ns)

	sa, admin := kubernetes.NewForConfigOrDie(configAs(t, cp, true)), kubernetes.NewForConfigOrDie(configAs(t, cp, false))
	const pool = "lp"
	labels := func(pool string, managed bool) map[string]string {
		l := map[string]string{v1alpha1.LabelPoolName: pool}
		if managed {
			l[v1alpha1.LabelManagedBy] = v1alpha1.ManagedByValue
		}
		return l
	}
	newMeta := func(name string, labels map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Labels: labels}
	}
	resources := []writable{
		writableOf(ctx, "endpoints", materialize.FormEndpoints, "", ns,
			func(ns string) namespacedClient[*corev1.Endpoints] { return sa.CoreV1().Endpoints(ns) },
			func(ns string) namespacedClient[*corev1.Endpoints] { return admin.CoreV1().Endpoints(ns) },
			func(name string, labels map[string]string) *corev1.Endpoints {
				return &corev1.Endpoints{ObjectMeta: newMeta(name, labels)}
			}),
		writableOf(ctx, "configmaps", materialize.FormConfigMap, "", ns,
			func(ns string) namespacedClient[*corev1.ConfigMap] { return sa.CoreV1().ConfigMaps(ns) },
			func(ns string) namespacedClient[*corev1.ConfigMap] { return admin.CoreV1().ConfigMaps(ns) },
			func(name string, labels map[string]string) *corev1.ConfigMap {
				return &corev1.ConfigMap{ObjectMeta: newMeta(name, labels)}
			}),
		writableOf(ctx, "endpointslices", materialize.FormEndpointSliceIPv4, "-ipv4", ns,
			func(ns string) namespacedClient[*discoveryv1.EndpointSlice] {
				return sa.DiscoveryV1().EndpointSlices(ns)
			},
			func(ns string) namespacedClient[*discoveryv1.EndpointSlice] {
				return admin.DiscoveryV1().EndpointSlices(ns)
			},
			func(name string, labels map[string]string) *discoveryv1.EndpointSlice {
				return &discoveryv1.EndpointSlice{ObjectMeta: newMeta(name, labels), AddressType: discoveryv1.AddressTypeIPv4}
			}),
	}
	for _, r := range resources {
		own := v1alpha1.ObjectName(pool) + r.suffix
		if !writes(r.form) {
			expectAccess(ctx, t, r.name+": create without the form", anyDenial, func(dryRun []string) error {
				return r.create(ns, own, labels(pool, true), dryRun)
			})
			continue
		}
		// Its own objects: created, updated and deleted as before.
		expectAccess(ctx, t, r.name+": create its own", allowed, func(dryRun []string) error { return r.create(ns, own, labels(pool, true), dryRun) })
		expectAccess(ctx, t, r.name+": update its own", allowed, func(dryRun []string) error { return r.update(own, dryRun) })
		expectAccess(ctx, t, r.name+": delete its own", allowed, func(dryRun []string) error { return r.remove(own, dryRun) })
		// Nothing else of the resource.
		expectAccess(ctx, t, r.name+": create without the managed-by label", notOneItMayWrite, func(dryRun []string) error {
			return r.create(ns, own, labels(pool, false), dryRun)
		})
		expectAccess(ctx, t, r.name+": create under another pool's name", notOneItMayWrite, func(dryRun []string) error {
			return r.create(ns, v1alpha1.ObjectName("other")+r.suffix, labels(pool, true), dryRun)
		})
		expectAccess(ctx, t, r.name+": create with another name", notOneItMayWrite, func(dryRun []string) error {
			return r.create(ns, "kube-dns-copy", labels(pool, true), dryRun)
		})
		expectAccess(ctx, t, r.name+": create in another namespace", anyDenial, func(dryRun []string) error {
			return r.create("default", own, labels(pool, true), dryRun)
		})
	}

	// Someone else's objects: RBAC stops what the configuration does not
	// need; the admission policy the rest, saying so.
	policyOr := func(form materialize.Form, message string) string {
		if writes(form) {
			return message
		}
		return anyDenial
	}
	expectAccess(ctx, t, "update ConfigMap coredns", policyOr(materialize.FormConfigMap, notLeaderHubs), func(dryRun []string) error {
		return resources[1].update("coredns", dryRun)
	})
	expectAccess(ctx, t, "update an unlabeled ConfigMap with a LeaderHub's name", policyOr(materialize.FormConfigMap, notLeaderHubs), func(dryRun []string) error {
		return resources[1].update(v1alpha1.ObjectName("lp-foreign"), dryRun)
	})
	expectAccess(ctx, t, "create any ConfigMap", policyOr(materialize.FormConfigMap, notOneItMayWrite), func(dryRun []string) error {
		return resources[1].create(ns, "anything", nil, dryRun)
	})
	expectAccess(ctx, t, "delete Endpoints kube-dns", policyOr(materialize.FormEndpoints, notLeaderHubs), func(dryRun []string) error {
		return resources[0].remove("kube-dns", dryRun)
	})
	leases := sa.CoordinationV1().Leases(ns)
	expectAccess(ctx, t, "read Lease kube-controller-manager", anyDenial, func([]string) error {
		_, err := leases.Get(ctx, "kube-controller-manager", metav1.GetOptions{})
		return err
	})
	expectAccess(ctx, t, "take Lease kube-controller-manager", anyDenial, func(dryRun []string) error {
		_, err := leases.Update(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "kube-controller-manager"},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("leaderhub")}}, metav1.UpdateOptions{DryRun: dryRun})
		return err
	})
	createLease := func(name string) func([]string) error {
		return func(dryRun []string) error {
			_, err := leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{DryRun: dryRun})
			return err
		}
	}
	if leaseOn {
		expectAccess(ctx, t, "create another Lease", notItsLease, createLease("kube-scheduler"))
		expectAccess(ctx, t, "create its Lease", allowed, func([]string) error { return createLease(lease)([]string{metav1.DryRunAll}) })
		expectAccess(ctx, t, "read its Lease", allowed, func([]string) error {
			_, err := leases.Get(ctx, lease, metav1.GetOptions{})
			return err
		})
	} else {
		expectAccess(ctx, t, "create a Lease without the controller lease", anyDenial, createLease(lease))
	}

	// NodePool status: the elector's only.
	status := openyurtclient.NewForConfigOrDie(configAs(t, cp, true)).AppsV1beta2().NodePools()
	want := anyDenial
	if hubLeaderOn {
		want = allowed
	}
	expectAccess(ctx, t, "patch NodePool status", want, func([]string) error {
		_, err := status.Patch(ctx, "chart-pool", types.MergePatchType, []byte(`{"status":{"leaderNum":1}}`),
			metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}}, "status")
		return err
	})
}

// checkNodePoolLabel: a node (its own credentials, group system:nodes)
// registers with its pool label, and keeps updating its Node; with the
// chart's policy on, it cannot change, remove or add that label (through the
// Node or its status), nor delete its Node where RBAC would let it; an admin
// can. With the policy off, the node can relabel itself.
func checkNodePoolLabel(ctx context.Context, t *testing.T, cp *framework.ControlPlane, admin kubernetes.Interface, on bool) {
	t.Helper()
	const poolLabel = "apps.openyurt.io/nodepool"
	suffix := map[bool]string{true: "on", false: "off"}[on]
	nodeClient := func(name string) kubernetes.Interface {
		cfg, err := cp.RESTConfigFor("system:node:"+name, "system:nodes")
		if err != nil {
			t.Fatal(err)
		}
		return kubernetes.NewForConfigOrDie(cfg)
	}
	relabel := func(kube kubernetes.Interface, name string, change func(map[string]string)) func([]string) error {
		return func(dryRun []string) error {
			n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if n.Labels == nil {
				n.Labels = map[string]string{}
			}
			change(n.Labels)
			_, err = kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{DryRun: dryRun})
			return err
		}
	}
	set := func(key, value string) func(map[string]string) { return func(l map[string]string) { l[key] = value } }
	unset := func(key string) func(map[string]string) { return func(l map[string]string) { delete(l, key) } }

	pooled, unpooled := "lp-node-"+suffix, "lp-bare-"+suffix
	node := nodeClient(pooled)
	// The kubelet's registration: its Node, with the pool label.
	if _, err := node.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: pooled,
		Labels: map[string]string{poolLabel: "lp-a"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("a node registering with its pool label: %v", err)
	}
	bare := nodeClient(unpooled)
	if _, err := bare.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: unpooled}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("a node registering without a pool label: %v", err)
	}
	expectAccess(ctx, t, "node: another label of its own", allowed, relabel(node, pooled, set("example.com/zone", "z1")))
	if !on {
		expectAccess(ctx, t, "node, policy off: moves itself", allowed, relabel(node, pooled, set(poolLabel, "lp-b")))
		expectAccess(ctx, t, "node, policy off: deletes its Node", allowed, func(dryRun []string) error {
			return node.CoreV1().Nodes().Delete(ctx, pooled, metav1.DeleteOptions{DryRun: dryRun})
		})
		return
	}
	expectAccess(ctx, t, "node: change its pool label in place", notTheNodes, relabel(node, pooled, set(poolLabel, "lp-b")))
	expectAccess(ctx, t, "node: remove its pool label", notTheNodes, relabel(node, pooled, unset(poolLabel)))
	expectAccess(ctx, t, "node: add a pool label", notTheNodes, relabel(bare, unpooled, set(poolLabel, "lp-a")))
	expectAccess(ctx, t, "node: delete its Node", noSelfDelete, func(dryRun []string) error {
		return node.CoreV1().Nodes().Delete(ctx, pooled, metav1.DeleteOptions{DryRun: dryRun})
	})
	// Through the status subresource: denied, or the label does not move.
	n, err := node.CoreV1().Nodes().Get(ctx, pooled, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Labels[poolLabel] = "lp-b"
	if _, err := node.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil && !apierrors.IsForbidden(err) {
		t.Errorf("node: its pool label through the status: %v", err)
	}
	if n, err = admin.CoreV1().Nodes().Get(ctx, pooled, metav1.GetOptions{}); err != nil || n.Labels[poolLabel] != "lp-a" {
		t.Errorf("node %s: pool %q (%v) after the node's own attempts, want lp-a", pooled, n.Labels[poolLabel], err)
	}
	// An admin (or yurt-manager) moves Nodes and deletes them.
	expectAccess(ctx, t, "admin: moves a Node", allowed, relabel(admin, pooled, set(poolLabel, "lp-b")))
	expectAccess(ctx, t, "admin: deletes a Node", allowed, func(dryRun []string) error {
		return admin.CoreV1().Nodes().Delete(ctx, unpooled, metav1.DeleteOptions{DryRun: dryRun})
	})
}
