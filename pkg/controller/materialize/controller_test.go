package materialize

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/feed"
	"github.com/leaderhub/leaderhub/pkg/projection"
	"github.com/leaderhub/leaderhub/test/fixtures"
)

const ns = "kube-system"

var opts = projection.Options{Namespace: ns, LeaderHubPort: v1alpha1.DefaultLeaderHubPort}

// fakePools is a PoolSource the test edits.
type fakePools struct {
	feed.Listeners
	mu     sync.Mutex
	states map[string]projection.State
}

func (f *fakePools) HasSynced() bool { return true }

func (f *fakePools) State(pool string) (projection.State, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[pool]
	return st, ok
}

func (f *fakePools) PoolNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for name := range f.states {
		out = append(out, name)
	}
	return out
}

func (f *fakePools) EachState(fn func(*projection.State)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, st := range f.states {
		fn(&st)
	}
}

// set stores a NodePool's state, as the view would, and tells the listener.
func (f *fakePools) set(np *appsv1beta2.NodePool) {
	f.mu.Lock()
	prev, ok := f.states[np.Name]
	st := projection.StateOf(np)
	if ok && st.Unpublishable != nil && prev.Published { // the view keeps the last good projection
		st.Pool, st.Published = prev.Pool, true
	}
	f.states[np.Name] = st
	f.mu.Unlock()
	f.Notify(np.Name)
}

func nodePool(name string, leaders ...appsv1beta2.Leader) *appsv1beta2.NodePool {
	return fixtures.NodePool(name, fixtures.InterConnected(), fixtures.WithLeaders(leaders...))
}

func leader(node, ip string) appsv1beta2.Leader { return fixtures.Leader(node, ip) }

func desiredEndpoints(t *testing.T, np *appsv1beta2.NodePool) *corev1.Endpoints {
	t.Helper()
	p, _, err := projection.Project(np)
	if err != nil {
		t.Fatal(err)
	}
	return p.Endpoints(opts)
}

// writes counts the create, update and delete calls the fake API received.
func writes(kube *fake.Clientset) int {
	n := 0
	for _, a := range kube.Actions() {
		switch a.GetVerb() {
		case "create", "update", "patch", "delete":
			n++
		}
	}
	return n
}

// TestDigestSeesOnlyOwnedFields: a digest changes with every field leaderhub
// owns, and not with labels or annotations someone else added.
func TestDigestSeesOnlyOwnedFields(t *testing.T) {
	oc, err := NewObjectCache(fake.NewClientset(), FormEndpoints, opts)
	if err != nil {
		t.Fatal(err)
	}
	base := desiredEndpoints(t, nodePool("p", leader("n1", "10.0.0.1")))
	want := oc.digestOf(base)
	for _, tc := range []struct {
		name string
		edit func(ep *corev1.Endpoints)
		same bool
	}{
		{"foreign label", func(ep *corev1.Endpoints) { ep.Labels["team"] = "x" }, true},
		{"foreign annotation", func(ep *corev1.Endpoints) { ep.Annotations["x"] = "y" }, true},
		{"server fields", func(ep *corev1.Endpoints) { ep.ResourceVersion, ep.UID, ep.Generation = "9", "u", 3 }, true},
		{"leader address", func(ep *corev1.Endpoints) { ep.Subsets[0].Addresses[0].IP = "10.0.0.9" }, false},
		{"port", func(ep *corev1.Endpoints) { ep.Subsets[0].Ports[0].Port = 1 }, false},
		{"pool label", func(ep *corev1.Endpoints) { ep.Labels[v1alpha1.LabelPoolName] = "q" }, false},
		{"owned annotation removed", func(ep *corev1.Endpoints) { delete(ep.Annotations, v1alpha1.AnnotationInterConnectivity) }, false},
		{"owner reference", func(ep *corev1.Endpoints) { ep.OwnerReferences[0].UID = "other" }, false},
		{"no subsets", func(ep *corev1.Endpoints) { ep.Subsets = nil }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := base.DeepCopy()
			tc.edit(ep)
			if got := oc.digestOf(ep) == want; got != tc.same {
				t.Errorf("same digest = %v, want %v", got, tc.same)
			}
		})
	}
}

// TestControllerAgainstFakeAPI drives the controller with a fake pool source
// and a fake API: it creates, leaves foreign objects alone, deletes orphans,
// reports unpublishable pools, repairs hand edits keeping foreign labels,
// follows leader changes, and writes nothing when nothing changed.
func TestControllerAgainstFakeAPI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	foreign := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "leader-hub-foreign", Namespace: ns, Labels: map[string]string{"owner": "x"}}}
	orphan := desiredEndpoints(t, nodePool("gone", leader("g", "10.0.9.1")))
	kube := fake.NewClientset(foreign, orphan)
	pools := &fakePools{states: map[string]projection.State{}}
	a := nodePool("a", leader("n1", "10.0.0.1"))
	pools.set(a)
	pools.set(nodePool("foreign", leader("f", "10.0.0.2")))
	pools.set(nodePool(strings.Repeat("x", 64), leader("x", "10.0.0.3")))

	oc, err := NewObjectCache(kube, FormEndpoints, opts)
	if err != nil {
		t.Fatal(err)
	}
	go oc.Run(ctx)
	events := record.NewFakeRecorder(100)
	c, err := New(pools, []*ObjectCache{oc}, events, Options{Projection: opts, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	go c.Run(ctx)

	eps := kube.CoreV1().Endpoints(ns)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			return cond(), nil
		}); err != nil {
			t.Fatalf("%s: not within 10s", what)
		}
	}
	leadersOf := func(name string) string {
		ep, err := eps.Get(ctx, name, metav1.GetOptions{})
		if err != nil || len(ep.Subsets) == 0 {
			return ""
		}
		var out []string
		for _, a := range ep.Subsets[0].Addresses {
			out = append(out, *a.NodeName+"/"+a.IP)
		}
		return strings.Join(out, ",")
	}
	waitFor("a's Endpoints created", func() bool { return leadersOf("leader-hub-a") == "n1/10.0.0.1" })
	waitFor("the orphan deleted", func() bool {
		_, err := eps.Get(ctx, "leader-hub-gone", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	seen := map[string]bool{}
	waitFor("ObjectConflict and InvalidPoolName events", func() bool {
		for {
			select {
			case e := <-events.Events:
				seen[strings.Fields(e)[1]] = true
				continue
			default:
			}
			return seen[ReasonObjectConflict] && seen[ReasonInvalidPoolName]
		}
	})
	if got, err := eps.Get(ctx, "leader-hub-foreign", metav1.GetOptions{}); err != nil || got.Labels["owner"] != "x" || len(got.Subsets) != 0 {
		t.Errorf("the foreign Endpoints changed: %+v, %v", got, err)
	}

	// Nothing changed: a sync reads nothing and writes nothing.
	waitFor("the cache to hold a's Endpoints", func() bool { _, ok := oc.get("leader-hub-a"); return ok })
	before := len(kube.Actions())
	if err := c.sync(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if after := len(kube.Actions()); after != before {
		t.Errorf("an unchanged sync made %d API calls: %v", after-before, kube.Actions()[before:])
	}

	// A hand edit is repaired; a label leaderhub does not own stays.
	ep, _ := eps.Get(ctx, "leader-hub-a", metav1.GetOptions{})
	ep.Subsets[0].Addresses[0].IP = "10.0.0.99"
	ep.Labels["team"] = "kept"
	if _, err := eps.Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("the hand edit repaired", func() bool { return leadersOf("leader-hub-a") == "n1/10.0.0.1" })
	if ep, _ := eps.Get(ctx, "leader-hub-a", metav1.GetOptions{}); ep.Labels["team"] != "kept" {
		t.Errorf("the repair dropped a foreign label: %v", ep.Labels)
	}

	// A leader change is written once.
	writesBefore := writes(kube)
	a.Status.LeaderEndpoints = []appsv1beta2.Leader{leader("n2", "10.0.0.5")}
	pools.set(a)
	waitFor("the leader change", func() bool { return leadersOf("leader-hub-a") == "n2/10.0.0.5" })
	if n := writes(kube) - writesBefore; n != 1 {
		t.Errorf("%d writes for one leader change, want 1", n)
	}

	// The pool gauges count the source's pools when scraped; a pool with
	// election off and no leaders is not missing any.
	leaderless := nodePool("leaderless")
	leaderless.Spec.EnableLeaderElection = true
	pools.set(leaderless)
	pools.set(nodePool("noelection"))
	pools.set(nodePool("half", leader("ok", "10.0.0.7"), leader("bad", "not-an-ip")))
	if got, want := c.totals(), (poolTotals{managed: 5, withoutLeaders: 1, invalidLeaders: 1}); got != want {
		t.Errorf("totals = %+v, want %+v", got, want)
	}
}

// remove forgets a pool, as the view does when its NodePool is deleted.
func (f *fakePools) remove(pool string) {
	f.mu.Lock()
	delete(f.states, pool)
	f.mu.Unlock()
}
