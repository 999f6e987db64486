package materialize

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/testutil"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/projection"
)

// syncFixture is a controller over fake pools and a fake API with the given
// forms, its caches synced, not running: tests call sync themselves.
type syncFixture struct {
	kube     *fake.Clientset
	pools    *fakePools
	c        *Controller
	events   *record.FakeRecorder
	registry metrics.KubeRegistry
}

func newSyncFixture(t *testing.T, forms []Form, objects ...runtime.Object) *syncFixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f := &syncFixture{kube: fake.NewClientset(objects...), pools: &fakePools{states: map[string]projection.State{}},
		events: record.NewFakeRecorder(100), registry: metrics.NewKubeRegistry()}
	var caches []*ObjectCache
	for _, form := range forms {
		oc, err := NewObjectCache(f.kube, form, opts)
		if err != nil {
			t.Fatal(err)
		}
		go oc.Run(ctx)
		if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) { return oc.HasSynced(), nil }); err != nil {
			t.Fatal(err)
		}
		caches = append(caches, oc)
	}
	c, err := New(f.pools, caches, f.events, Options{Projection: opts})
	if err != nil {
		t.Fatal(err)
	}
	c.RegisterMetrics(f.registry)
	f.c = c
	return f
}

// sync syncs a pool, then waits until every cache holds what the API holds
// of the pool's objects, as it would before the next sync of a running
// controller.
func (f *syncFixture) sync(t *testing.T, pool string) error {
	t.Helper()
	ctx := context.Background()
	err := f.c.sync(ctx, pool)
	for _, oc := range f.c.objects {
		name := oc.kind.objectName(pool)
		if werr := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			live, getErr := oc.kind.fetch(ctx, name)
			cached, ok := oc.get(name)
			if apierrors.IsNotFound(getErr) {
				return !ok, nil
			}
			return ok && getErr == nil && cached == oc.digestOf(live), nil
		}); werr != nil {
			t.Fatalf("the %s cache did not catch up with %s", oc.Form(), name)
		}
	}
	return err
}

// drainEvents returns the reasons of the Events recorded since the last call.
func (f *syncFixture) drainEvents() []string {
	var out []string
	for {
		select {
		case e := <-f.events.Events:
			out = append(out, strings.Fields(e)[1])
		default:
			return out
		}
	}
}

// rejected reads leaderhub_controller_rejections_total{form, reason}.
func (f *syncFixture) rejected(t *testing.T, form Form, reason string) float64 {
	t.Helper()
	v, err := testutil.GetCounterMetricValue(f.c.metrics.rejections.WithLabelValues(string(form), reason))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *syncFixture) apiCalls(verb, resource string) int {
	n := 0
	for _, a := range f.kube.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource {
			n++
		}
	}
	return n
}

// writeActions are the API calls a sync made, as "verb resource", leaving
// out the caches' lists and watches.
func (f *syncFixture) writeActions(from int) []string {
	var out []string
	for _, a := range f.kube.Actions()[from:] {
		if a.GetVerb() == "list" || a.GetVerb() == "watch" {
			continue
		}
		out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
	}
	return out
}

// TestSyncActions drives one pool through sync against a fake API and
// checks the calls it makes, as sample-controller's and the endpoints
// controller's tests do.
func TestSyncActions(t *testing.T) {
	np := nodePool("p", leader("n1", "10.0.0.1"))
	inLine := desiredEndpoints(t, np)
	edited := inLine.DeepCopy()
	edited.Subsets[0].Addresses[0].IP = "10.0.0.99"
	foreign := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "leader-hub-p", Namespace: ns}}
	unpublishable := nodePool(strings.Repeat("x", 64), leader("n1", "10.0.0.1"))
	for _, tc := range []struct {
		name     string
		existing []runtime.Object
		pool     *appsv1beta2.NodePool // nil: the pool is gone
		syncs    string
		want     []string
		result   string
	}{
		{name: "a missing object is created", pool: np, syncs: "p", want: []string{"create endpoints"}, result: "created"},
		{name: "an object in line costs no call", existing: []runtime.Object{inLine}, pool: np, syncs: "p", result: "unchanged"},
		{name: "a hand edit is read and repaired", existing: []runtime.Object{edited}, pool: np, syncs: "p",
			want: []string{"get endpoints", "update endpoints"}, result: "updated"},
		{name: "a foreign object is read and left alone", existing: []runtime.Object{foreign}, pool: np, syncs: "p",
			want: []string{"create endpoints", "get endpoints"}, result: "conflict"},
		{name: "a gone pool's object is read and deleted", existing: []runtime.Object{inLine}, syncs: "p",
			want: []string{"get endpoints", "delete endpoints"}, result: "deleted"},
		{name: "a gone pool with no object costs no call", syncs: "p", result: "unchanged"},
		{name: "a pool that cannot be published costs no call", pool: unpublishable, syncs: unpublishable.Name, result: "skipped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSyncFixture(t, []Form{FormEndpoints}, tc.existing...)
			if tc.pool != nil {
				f.pools.set(tc.pool)
			}
			from := len(f.kube.Actions())
			if err := f.c.sync(context.Background(), tc.syncs); err != nil {
				t.Fatal(err)
			}
			if got := f.writeActions(from); strings.Join(got, ";") != strings.Join(tc.want, ";") {
				t.Errorf("calls %v, want %v", got, tc.want)
			}
			if v, err := testutil.GetCounterMetricValue(f.c.metrics.syncs.WithLabelValues(tc.result)); err != nil || v != 1 {
				t.Errorf("syncs_total{result=%q} = %v (%v), want 1", tc.result, v, err)
			}
		})
	}
}

// TestFormsFailIndependently: a 55-character pool cannot have the upstream
// ConfigMap (its configmap-name label would be 66 characters); its Endpoints
// are written all the same, the rejection is recorded once, never retried
// with backoff, and re-evaluated when the pool changes.
func TestFormsFailIndependently(t *testing.T) {
	f := newSyncFixture(t, []Form{FormConfigMap, FormEndpoints})
	pool := strings.Repeat("p", 55)
	np := nodePool(pool, leader("n1", "10.0.0.1"))
	f.pools.set(np)
	ctx := context.Background()

	if err := f.sync(t, pool); err != nil {
		t.Fatalf("sync failed (and would be retried with backoff): %v", err)
	}
	if _, err := f.kube.CoreV1().Endpoints(ns).Get(ctx, "leader-hub-"+pool, metav1.GetOptions{}); err != nil {
		t.Errorf("the Endpoints were not written: %v", err)
	}
	if n := f.apiCalls("create", "configmaps"); n != 0 {
		t.Errorf("%d ConfigMap creates for a name the ConfigMap form cannot hold, want 0", n)
	}
	if got := f.drainEvents(); len(got) != 1 || got[0] != ReasonPoolNameTooLongForConfigMap {
		t.Errorf("events %v, want one %s", got, ReasonPoolNameTooLongForConfigMap)
	}
	if v := f.rejected(t, FormConfigMap, ReasonPoolNameTooLongForConfigMap); v != 1 {
		t.Errorf("rejections_total = %v, want 1", v)
	}

	// The same pool again, and a resync: nothing new is recorded.
	for i := 0; i < 3; i++ {
		if i == 2 {
			f.c.rejections.retryAll()
		}
		if err := f.sync(t, pool); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.drainEvents(); len(got) != 0 {
		t.Errorf("unchanged pool: events %v, want none", got)
	}
	if v := f.rejected(t, FormConfigMap, ReasonPoolNameTooLongForConfigMap); v != 1 {
		t.Errorf("rejections_total = %v after unchanged syncs, want 1", v)
	}

	// A leader change is a new object with the same cause: re-evaluated,
	// still not written, not reported again.
	np.Status.LeaderEndpoints = append(np.Status.LeaderEndpoints, leader("n2", "10.0.0.2"))
	f.pools.set(np)
	if err := f.sync(t, pool); err != nil {
		t.Fatal(err)
	}
	if got := f.drainEvents(); len(got) != 0 {
		t.Errorf("after a leader change: events %v, want none (same cause)", got)
	}
	if n := f.apiCalls("create", "configmaps"); n != 0 {
		t.Errorf("%d ConfigMap creates after a change, want 0", n)
	}
	ep, err := f.kube.CoreV1().Endpoints(ns).Get(context.Background(), "leader-hub-"+pool, metav1.GetOptions{})
	if err != nil || len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 2 {
		t.Errorf("the Endpoints did not follow the change: %+v, %v", ep, err)
	}
	if v := f.rejected(t, FormConfigMap, ReasonPoolNameTooLongForConfigMap); v != 1 {
		t.Errorf("rejections_total = %v after a change with the same cause, want 1", v)
	}
}

// TestInvalidObjectNotRetriedWithBackoff: an object kube-apiserver rejects as
// Invalid is not an error (no backoff), is sent once per change and once
// more at each resync, and its cause is reported once; a transient failure of one form
// is an error, and the other form is still written.
func TestInvalidObjectNotRetriedWithBackoff(t *testing.T) {
	f := newSyncFixture(t, []Form{FormConfigMap, FormEndpoints})
	invalid := apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "x",
		field.ErrorList{field.Invalid(field.NewPath("data"), "", "rejected by a policy")})
	var fail error = invalid
	f.kube.PrependReactor("create", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return fail != nil, nil, fail
	})
	f.pools.set(nodePool("p", leader("n1", "10.0.0.1")))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := f.sync(t, "p"); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	if n := f.apiCalls("create", "configmaps"); n != 1 {
		t.Errorf("%d ConfigMap creates for one rejected object, want 1", n)
	}
	if got := f.drainEvents(); len(got) != 1 || got[0] != ReasonObjectInvalid {
		t.Errorf("events %v, want one %s", got, ReasonObjectInvalid)
	}
	f.c.rejections.retryAll()
	if err := f.sync(t, "p"); err != nil {
		t.Fatal(err)
	}
	if n := f.apiCalls("create", "configmaps"); n != 2 {
		t.Errorf("%d ConfigMap creates after a resync, want 2", n)
	}
	if got := f.drainEvents(); len(got) != 0 {
		t.Errorf("the same rejection at resync: events %v, want none", got)
	}

	// A transient failure is an error (backoff), and Endpoints are written.
	fail = apierrors.NewServiceUnavailable("etcd is slow")
	f.pools.set(nodePool("q", leader("n1", "10.0.0.1")))
	err := f.sync(t, "q")
	if err == nil || !apierrors.IsServiceUnavailable(err) && !strings.Contains(err.Error(), "etcd is slow") {
		t.Fatalf("transient failure: err %v, want it returned", err)
	}
	if _, err := f.kube.CoreV1().Endpoints(ns).Get(ctx, "leader-hub-q", metav1.GetOptions{}); err != nil {
		t.Errorf("a failing ConfigMap kept the Endpoints from being written: %v", err)
	}
	// Once the API accepts it, the rejection is forgotten.
	fail = nil
	if err := f.sync(t, "q"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.kube.CoreV1().ConfigMaps(ns).Get(ctx, "leader-hub-q", metav1.GetOptions{}); err != nil {
		t.Errorf("the ConfigMap was not written once accepted: %v", err)
	}
}

// TestEndpointSliceForm: one slice per address family present, named by
// family; a family's slice goes when its leaders go; a pool without leaders
// keeps an empty IPv4 slice; nothing is written when nothing changed; a
// gone pool's slices are deleted.
func TestEndpointSliceForm(t *testing.T) {
	forms, err := ParseForms([]string{"endpointslice"})
	if err != nil {
		t.Fatal(err)
	}
	f := newSyncFixture(t, forms)
	slices := f.kube.DiscoveryV1().EndpointSlices(ns)
	get := func(name string) *discoveryv1.EndpointSlice {
		t.Helper()
		es, err := slices.Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	addresses := func(es *discoveryv1.EndpointSlice) string {
		var out []string
		for _, e := range es.Endpoints {
			out = append(out, *e.NodeName+"/"+strings.Join(e.Addresses, "+"))
		}
		return strings.Join(out, ",")
	}
	for _, step := range []struct {
		name       string
		leaders    []appsv1beta2.Leader
		ipv4, ipv6 string // "-": no slice
	}{
		{"IPv4 leaders", []appsv1beta2.Leader{leader("n2", "10.0.0.2"), leader("n1", "10.0.0.1")}, "n1/10.0.0.1,n2/10.0.0.2", "-"},
		{"dual-stack leaders", []appsv1beta2.Leader{leader("n1", "10.0.0.1"), leader("n3", "fd00::3")}, "n1/10.0.0.1", "n3/fd00::3"},
		{"IPv6 leaders only", []appsv1beta2.Leader{leader("n3", "fd00::3")}, "-", "n3/fd00::3"},
		{"no leaders", nil, "", "-"},
	} {
		f.pools.set(nodePool("p", step.leaders...))
		if err := f.sync(t, "p"); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		for family, want := range map[discoveryv1.AddressType]string{discoveryv1.AddressTypeIPv4: step.ipv4, discoveryv1.AddressTypeIPv6: step.ipv6} {
			es := get(projection.EndpointSliceName("p", family))
			switch {
			case want == "-" && es != nil:
				t.Errorf("%s: %s slice %v, want none", step.name, family, addresses(es))
			case want == "-":
			case es == nil:
				t.Errorf("%s: no %s slice", step.name, family)
			case addresses(es) != want || es.AddressType != family:
				t.Errorf("%s: %s slice %s (%s), want %s", step.name, family, addresses(es), es.AddressType, want)
			case es.Labels[discoveryv1.LabelManagedBy] != "leaderhub.openyurt.io" || es.Labels["openyurt.io/pool-name"] != "p" ||
				es.Labels["service.kubernetes.io/headless"] != "" || len(es.OwnerReferences) != 1 ||
				es.Annotations["openyurt.io/interconnectivity"] != "true" || len(es.Ports) != 1 || *es.Ports[0].Port != opts.LeaderHubPort:
				t.Errorf("%s: %s slice metadata or ports %+v", step.name, family, es)
			}
			if es != nil {
				for _, e := range es.Endpoints {
					if e.Conditions.Ready == nil || !*e.Conditions.Ready {
						t.Errorf("%s: endpoint %v not ready", step.name, e.Addresses)
					}
				}
			}
		}
		// Nothing changed: no call at all.
		from := len(f.kube.Actions())
		if err := f.c.sync(context.Background(), "p"); err != nil {
			t.Fatal(err)
		}
		if got := f.writeActions(from); len(got) != 0 {
			t.Errorf("%s: a second sync called %v", step.name, got)
		}
	}
	f.pools.set(nodePool("p", leader("n1", "10.0.0.1"), leader("n3", "fd00::3")))
	if err := f.sync(t, "p"); err != nil {
		t.Fatal(err)
	}
	f.pools.remove("p")
	if err := f.sync(t, "p"); err != nil {
		t.Fatal(err)
	}
	for _, family := range []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6} {
		if es := get(projection.EndpointSliceName("p", family)); es != nil {
			t.Errorf("a gone pool's %s slice is left", family)
		}
	}
}

// TestWarningsOnceWhileTheCauseLasts: a pool that cannot be published, one
// with invalid leader entries and one whose object belongs to someone else
// each get one Warning, however often they are synced; a cause that goes
// and comes back is warned of again.
func TestWarningsOnceWhileTheCauseLasts(t *testing.T) {
	foreign := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "leader-hub-c", Namespace: ns}}
	f := newSyncFixture(t, []Form{FormEndpoints}, foreign)
	long := strings.Repeat("x", 64)
	f.pools.set(nodePool(long, leader("n1", "10.0.0.1")))
	f.pools.set(nodePool("i", leader("n1", "10.0.0.1"), leader("n2", "not-an-ip")))
	f.pools.set(nodePool("c", leader("n1", "10.0.0.1")))
	for range 3 { // a sync, then two resyncs
		for _, pool := range []string{long, "i"} {
			if err := f.sync(t, pool); err != nil {
				t.Fatal(err)
			}
		}
		// The foreign object is never in the cache, which holds only
		// leaderhub's: nothing to wait for.
		if err := f.c.sync(context.Background(), "c"); err != nil {
			t.Fatal(err)
		}
		f.c.rejections.retryAll()
	}
	got := map[string]int{}
	for _, reason := range f.drainEvents() {
		got[reason]++
	}
	want := map[string]int{ReasonInvalidPoolName: 1, ReasonInvalidLeaderAddress: 1, ReasonObjectConflict: 1}
	if !maps.Equal(got, want) {
		t.Errorf("Events %v, want %v", got, want)
	}
	if v, _ := testutil.GetCounterMetricValue(f.c.metrics.conflicts.WithLabelValues(string(FormEndpoints))); v != 3 {
		t.Errorf("conflicts counted %v times, want at every sync (3)", v)
	}
	// The invalid entry is fixed, then comes back: warned of again.
	f.pools.set(nodePool("i", leader("n1", "10.0.0.1")))
	if err := f.sync(t, "i"); err != nil {
		t.Fatal(err)
	}
	f.pools.set(nodePool("i", leader("n1", "10.0.0.1"), leader("n2", "not-an-ip")))
	if err := f.sync(t, "i"); err != nil {
		t.Fatal(err)
	}
	if got := f.drainEvents(); !slices.Equal(got, []string{ReasonInvalidLeaderAddress}) {
		t.Errorf("a cause that came back: Events %v, want one %s", got, ReasonInvalidLeaderAddress)
	}
}
