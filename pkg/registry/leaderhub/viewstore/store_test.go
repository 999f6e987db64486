package viewstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/utils/ptr"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
	"github.com/leaderhub/leaderhub/pkg/projection"
	"github.com/leaderhub/leaderhub/test/fixtures"
)

const ns = "kube-system"

func nodePool(name string, rv uint64, leaders ...string) *appsv1beta2.NodePool {
	return fixtures.NodePool(name, fixtures.WithResourceVersion(rv), fixtures.WithNumberedLeaders(leaders...))
}

func newSyncedStore(t *testing.T, opts Options, pools ...*appsv1beta2.NodePool) *Store {
	t.Helper()
	opts.Projection = projection.Options{Namespace: ns, LeaderHubPort: 10269}
	if opts.FreshnessTimeout == 0 {
		opts.FreshnessTimeout = 200 * time.Millisecond
	}
	s := New(opts)
	items := make([]interface{}, 0, len(pools))
	var rv uint64 = 1
	for _, np := range pools {
		items = append(items, np)
		if v, _ := parseRV(np.ResourceVersion); v > rv {
			rv = v
		}
	}
	if err := s.Replace(items, strconv.FormatUint(rv, 10)); err != nil {
		t.Fatal(err)
	}
	return s
}

// must fails the test when a store change was refused: a check that
// nothing was heard or sent after a refused change would prove nothing.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustWatch(t *testing.T, s *Store, opts *metainternalversion.ListOptions) watch.Interface {
	t.Helper()
	w, err := s.Watch(context.Background(), ns, opts)
	if err != nil {
		t.Fatalf("Watch(%+v): %v", opts, err)
	}
	t.Cleanup(w.Stop)
	return w
}

// next returns the next event or fails after a second.
func next(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-time.After(time.Second):
		t.Fatal("no event within a second")
	}
	return watch.Event{}
}

func expectNone(t *testing.T, w watch.Interface) {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if ok {
			t.Fatalf("unexpected event %s at %s", ev.Type, ev.Object.(*leaderhub.LeaderHub).ResourceVersion)
		}
		t.Fatal("watch closed unexpectedly")
	case <-time.After(100 * time.Millisecond):
	}
}

func rvOf(ev watch.Event) string { return ev.Object.(*leaderhub.LeaderHub).ResourceVersion }

func TestOnlyProjectionChangesAreEvents(t *testing.T) {
	s := newSyncedStore(t, Options{}, nodePool("a", 10, "10.0.0.1"))
	w := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "10"})

	churn := nodePool("a", 11, "10.0.0.1")
	churn.Status.ReadyNodeNum, churn.Status.Nodes = 5, []string{"x", "y"}
	if err := s.Update(churn); err != nil {
		t.Fatal(err)
	}
	expectNone(t, w)
	if got := storeRV(s); got != 11 {
		t.Errorf("store rv = %d after churn, want 11", got)
	}
	obj, _ := s.Get(context.Background(), ns, "leader-hub-a")
	if obj.ResourceVersion != "10" {
		t.Errorf("object rv = %s after churn, want 10 (unchanged)", obj.ResourceVersion)
	}

	if err := s.Update(nodePool("a", 12, "10.0.0.2")); err != nil {
		t.Fatal(err)
	}
	ev := next(t, w)
	if ev.Type != watch.Modified || rvOf(ev) != "12" {
		t.Fatalf("got %s@%s, want MODIFIED@12", ev.Type, rvOf(ev))
	}
	if err := s.Delete(nodePool("a", 13)); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Type != watch.Deleted || rvOf(ev) != "13" {
		t.Fatalf("got %s@%s, want DELETED@13", ev.Type, rvOf(ev))
	}
}

func TestWatchResourceVersionSemantics(t *testing.T) {
	s := newSyncedStore(t, Options{HistorySize: 2}, nodePool("a", 10, "10.0.0.1"), nodePool("b", 5, "10.0.1.1"))
	for _, step := range []struct {
		rv uint64
		ip string
	}{{11, "10.0.0.2"}, {12, "10.0.0.3"}, {13, "10.0.0.4"}} {
		if err := s.Update(nodePool("a", step.rv, step.ip)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("legacy watch sends current state", func(t *testing.T) {
		for _, rv := range []string{"", "0"} {
			w := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: rv})
			a, b := next(t, w), next(t, w)
			if a.Type != watch.Added || b.Type != watch.Added || rvOf(a) != "13" || rvOf(b) != "5" {
				t.Errorf("rv %q: got %s@%s %s@%s", rv, a.Type, rvOf(a), b.Type, rvOf(b))
			}
			expectNone(t, w)
		}
	})
	t.Run("resume delivers exactly the missed changes", func(t *testing.T) {
		w := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "12"})
		if ev := next(t, w); ev.Type != watch.Modified || rvOf(ev) != "13" {
			t.Errorf("got %s@%s, want MODIFIED@13", ev.Type, rvOf(ev))
		}
		expectNone(t, w)
	})
	t.Run("evicted history is 410 Expired", func(t *testing.T) {
		_, err := s.Watch(context.Background(), ns, &metainternalversion.ListOptions{ResourceVersion: "10"})
		if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
			t.Errorf("err = %v, want 410 Expired", err)
		}
	})
	t.Run("newer than the store is too large after a wait", func(t *testing.T) {
		_, err := s.Watch(context.Background(), ns, &metainternalversion.ListOptions{ResourceVersion: "99"})
		if !storage.IsTooLargeResourceVersion(err) {
			t.Errorf("err = %v, want too large resource version", err)
		}
		_, err = s.List(context.Background(), ns, &metainternalversion.ListOptions{ResourceVersion: "99"})
		if !storage.IsTooLargeResourceVersion(err) {
			t.Errorf("list err = %v, want too large resource version", err)
		}
	})
	t.Run("newer version arriving during the wait is served", func(t *testing.T) {
		go func() {
			time.Sleep(50 * time.Millisecond)
			s.UpdateResourceVersion("14")
		}()
		w := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "14"})
		expectNone(t, w)
	})
	t.Run("malformed resourceVersion is 400", func(t *testing.T) {
		_, err := s.Watch(context.Background(), ns, &metainternalversion.ListOptions{ResourceVersion: "abc"})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("err = %v, want 400", err)
		}
	})
}

func TestSendInitialEventsEndsWithAnnotatedBookmark(t *testing.T) {
	s := newSyncedStore(t, Options{}, nodePool("a", 10, "10.0.0.1"), nodePool("b", 7))
	w := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "", ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
		SendInitialEvents: ptr.To(true), AllowWatchBookmarks: true})
	next(t, w)
	next(t, w)
	bm := next(t, w)
	obj := bm.Object.(*leaderhub.LeaderHub)
	if bm.Type != watch.Bookmark || obj.Annotations[metav1.InitialEventsAnnotationKey] != "true" || obj.ResourceVersion != "10" {
		t.Fatalf("got %s %+v, want the initial-events-end bookmark at 10", bm.Type, obj.ObjectMeta)
	}
}

func TestPeriodicBookmarksCarryNewestVersion(t *testing.T) {
	s := newSyncedStore(t, Options{BookmarkInterval: 20 * time.Millisecond}, nodePool("a", 10, "10.0.0.1"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	w := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "10", AllowWatchBookmarks: true})
	quiet := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "10"})
	s.UpdateResourceVersion("20") // churn elsewhere moved the store on
	if ev := next(t, w); ev.Type != watch.Bookmark || rvOf(ev) != "20" {
		t.Fatalf("got %s@%s, want BOOKMARK@20", ev.Type, rvOf(ev))
	}
	expectNone(t, quiet)
}

func TestFiltersPerWatcher(t *testing.T) {
	s := newSyncedStore(t, Options{}, nodePool("a", 10), nodePool("b", 11))
	byName := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "11",
		FieldSelector: fields.OneTermEqualSelector("metadata.name", "leader-hub-b")})
	byLabel := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "11",
		LabelSelector: labels.SelectorFromSet(labels.Set{"openyurt.io/pool-name": "a"})})
	otherNS, err := s.Watch(context.Background(), "default", &metainternalversion.ListOptions{ResourceVersion: "11"})
	if err != nil {
		t.Fatal(err)
	}
	defer otherNS.Stop()

	must(t, s.Update(nodePool("a", 12, "10.0.0.1")))
	must(t, s.Update(nodePool("b", 13, "10.0.0.2")))
	if ev := next(t, byName); rvOf(ev) != "13" {
		t.Errorf("name watcher got %s@%s, want the b change at 13", ev.Type, rvOf(ev))
	}
	if ev := next(t, byLabel); rvOf(ev) != "12" {
		t.Errorf("label watcher got %s@%s, want the a change at 12", ev.Type, rvOf(ev))
	}
	expectNone(t, byName)
	expectNone(t, byLabel)
	expectNone(t, otherNS)

	list, err := s.List(context.Background(), "default", nil)
	if err != nil || len(list.Items) != 0 {
		t.Errorf("list in another namespace = %v, %v; want empty", list, err)
	}
	if _, err := s.Get(context.Background(), "default", "leader-hub-a"); !apierrors.IsNotFound(err) {
		t.Errorf("get in another namespace: %v, want 404", err)
	}
}

func TestSlowWatcherIsDroppedOthersKeepUp(t *testing.T) {
	s := newSyncedStore(t, Options{WatcherBuffer: 4}, nodePool("a", 10))
	slow := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "10"})
	fast := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "10"})
	received := make(chan int)
	go func() {
		n := 0
		for range fast.ResultChan() {
			n++
			if n == 20 {
				received <- n
				return
			}
		}
	}()
	for i := 0; i < 20; i++ {
		must(t, s.Update(nodePool("a", uint64(11+i), fmt.Sprintf("10.0.0.%d", i+1))))
		time.Sleep(2 * time.Millisecond) // NodePool writes are paced by kube-apiserver, not a tight loop
	}
	select {
	case <-received:
	case <-time.After(2 * time.Second):
		t.Fatal("the fast watcher did not get all 20 events")
	}
	// The slow one gets what was queued for it, then its watch ends.
	n := 0
	for range slow.ResultChan() {
		n++
	}
	if n == 0 || n >= 20 {
		t.Errorf("slow watcher got %d events before being dropped, want some but not all", n)
	}
}

// relistFixture is a store with pools a, b, c and d, and the list a relist
// brings after a broken watch: a changed, b unchanged, c deleted, d
// recreated with a new uid, e added.
func relistFixture(t *testing.T, opts Options) (*Store, []interface{}) {
	t.Helper()
	s := newSyncedStore(t, opts, nodePool("a", 10, "10.0.0.1"), nodePool("b", 11, "10.0.0.2"),
		nodePool("c", 12, "10.0.0.3"), nodePool("d", 13, "10.0.0.4"))
	d := nodePool("d", 35, "10.0.0.4")
	d.UID = "uid-d-recreated"
	return s, []interface{}{nodePool("a", 30, "10.0.0.9"), nodePool("b", 11, "10.0.0.2"), d, nodePool("e", 20, "10.0.0.5")}
}

// eventsOf renders events as "TYPE name@rv".
func eventsOf(evs ...watch.Event) []string {
	var out []string
	for _, ev := range evs {
		lh := ev.Object.(*leaderhub.LeaderHub)
		out = append(out, fmt.Sprintf("%s %s@%s", ev.Type, lh.Name, lh.ResourceVersion))
	}
	return out
}

// relistChanges are the events a relist of relistFixture sends, in order.
var relistChanges = []string{"ADDED leader-hub-e@20", "MODIFIED leader-hub-a@30", "DELETED leader-hub-d@35",
	"ADDED leader-hub-d@35", "DELETED leader-hub-c@40"}

// TestRelistSendsTheDifference: a relist ends no watch; every watcher gets
// exactly the changes that concern it, at their versions, in order; a
// client resuming from before the relist gets them too, not 410.
func TestRelistSendsTheDifference(t *testing.T) {
	s, list := relistFixture(t, Options{})
	all := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "13"})
	byName := map[string]watch.Interface{}
	for _, pool := range []string{"a", "b", "c", "d", "e"} {
		byName[pool] = mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "13",
			FieldSelector: fields.OneTermEqualSelector("metadata.name", "leader-hub-"+pool)})
	}
	if err := s.Replace(list, "40"); err != nil {
		t.Fatal(err)
	}
	var got []watch.Event
	for range relistChanges {
		got = append(got, next(t, all))
	}
	if !slices.Equal(eventsOf(got...), relistChanges) {
		t.Errorf("watcher of all got %v, want %v", eventsOf(got...), relistChanges)
	}
	want := map[string][]string{
		"a": {"MODIFIED leader-hub-a@30"},
		"c": {"DELETED leader-hub-c@40"},
		"d": {"DELETED leader-hub-d@35", "ADDED leader-hub-d@35"},
		"e": {"ADDED leader-hub-e@20"},
	}
	for pool, w := range byName {
		var evs []watch.Event
		for range want[pool] {
			evs = append(evs, next(t, w))
		}
		if !slices.Equal(eventsOf(evs...), want[pool]) {
			t.Errorf("watcher of %s got %v, want %v", pool, eventsOf(evs...), want[pool])
		}
	}
	// Nothing more for anyone, and every watch is still open.
	time.Sleep(50 * time.Millisecond)
	for pool, w := range map[string]watch.Interface{"all": all, "a": byName["a"], "b": byName["b"], "c": byName["c"], "d": byName["d"], "e": byName["e"]} {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Errorf("watcher of %s was ended by the relist", pool)
			} else {
				t.Errorf("watcher of %s got an extra event: %v", pool, eventsOf(ev))
			}
		default:
		}
	}
	if n := s.watchers.len(); n != 6 {
		t.Errorf("%d watchers after the relist, want 6", n)
	}

	resumed := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "13"})
	got = nil
	for range relistChanges {
		got = append(got, next(t, resumed))
	}
	if !slices.Equal(eventsOf(got...), relistChanges) {
		t.Errorf("resume from before the relist got %v, want %v", eventsOf(got...), relistChanges)
	}
	list2, _ := s.List(context.Background(), ns, nil)
	var items []string
	for _, lh := range list2.Items {
		items = append(items, lh.Name+"@"+lh.ResourceVersion)
	}
	if list2.ResourceVersion != "40" || !slices.Equal(items, []string{"leader-hub-a@30", "leader-hub-b@11", "leader-hub-d@35", "leader-hub-e@20"}) {
		t.Errorf("after the relist: list at %s holds %v", list2.ResourceVersion, items)
	}
	w2 := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "40"})
	must(t, s.Update(nodePool("a", 41, "10.0.0.8")))
	if ev := next(t, w2); rvOf(ev) != "41" {
		t.Errorf("got %s@%s after relist, want 41", ev.Type, rvOf(ev))
	}
}

// TestRelistBatchAllOrNothing: a watcher whose queue cannot hold all of a
// relist's changes gets none of them and is dropped, so it resumes from
// before the relist and misses nothing.
func TestRelistBatchAllOrNothing(t *testing.T) {
	s, list := relistFixture(t, Options{WatcherBuffer: 3})
	small := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "13"})
	named := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "13",
		FieldSelector: fields.OneTermEqualSelector("metadata.name", "leader-hub-d")})
	time.Sleep(20 * time.Millisecond) // let the feeders hand over
	if err := s.Replace(list, "40"); err != nil {
		t.Fatal(err)
	}
	if ev, ok := <-small.ResultChan(); ok {
		t.Errorf("a watcher that cannot hold the batch got %v, want its watch ended with none of it", eventsOf(ev))
	}
	if got := eventsOf(next(t, named), next(t, named)); !slices.Equal(got, []string{"DELETED leader-hub-d@35", "ADDED leader-hub-d@35"}) {
		t.Errorf("watcher of d got %v", got)
	}
}

// TestRelistWithNoChange sends nothing and moves the version on.
func TestRelistWithNoChange(t *testing.T) {
	s := newSyncedStore(t, Options{}, nodePool("a", 10, "10.0.0.1"))
	w := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "10"})
	if err := s.Replace([]interface{}{nodePool("a", 10, "10.0.0.1")}, "50"); err != nil {
		t.Fatal(err)
	}
	select {
	case ev, ok := <-w.ResultChan():
		t.Errorf("a relist with no change sent %v (open: %t)", ev, ok)
	case <-time.After(50 * time.Millisecond):
	}
	if list, _ := s.List(context.Background(), ns, nil); list.ResourceVersion != "50" {
		t.Errorf("list at %s after the relist, want 50", list.ResourceVersion)
	}
}

func TestUnprojectablePoolIsReportedNotServed(t *testing.T) {
	var reported error
	long := nodePool(fmt.Sprintf("%064d", 0), 10)
	s := newSyncedStore(t, Options{OnInvalid: func(np *appsv1beta2.NodePool, _ []projection.InvalidLeader, err error) { reported = err }}, long, nodePool("ok", 11))
	if reported == nil {
		t.Error("the too-long pool name was not reported")
	}
	list, _ := s.List(context.Background(), ns, nil)
	if len(list.Items) != 1 || list.Items[0].Name != "leader-hub-ok" {
		t.Errorf("list = %v, want only leader-hub-ok", list.Items)
	}
}

func TestUnprojectableUpdateKeepsLastGoodProjection(t *testing.T) {
	s := newSyncedStore(t, Options{OnInvalid: func(*appsv1beta2.NodePool, []projection.InvalidLeader, error) {}}, nodePool("a", 10, "10.0.0.1"))
	w := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "10"})
	tooBig := nodePool("a", 11, "10.0.0.2")
	for i := 0; i < 3500; i++ { // about 300 KB: more than the 256 KiB all annotations may hold
		tooBig.Spec.PoolScopeMetadata = append(tooBig.Spec.PoolScopeMetadata,
			metav1.GroupVersionResource{Group: fmt.Sprintf("%080d", i), Version: "v1", Resource: "r"})
	}
	if err := s.Update(tooBig); err != nil {
		t.Fatal(err)
	}
	expectNone(t, w)
	obj, err := s.Get(context.Background(), ns, "leader-hub-a")
	if err != nil || obj.ResourceVersion != "10" || obj.Subsets[0].Addresses[0].IP != "10.0.0.1" {
		t.Fatalf("after an unpublishable update: rv %q, err %v; want the last good projection at 10", obj.ResourceVersion, err)
	}
}

// TestListenersHearWhatTheControllerNeeds: listeners are told of changes to a
// projection and to what is left out of it, and of deletes and relists, but
// not of status churn; State says what is published and why not.
func TestListenersHearWhatTheControllerNeeds(t *testing.T) {
	s := newSyncedStore(t, Options{OnInvalid: func(*appsv1beta2.NodePool, []projection.InvalidLeader, error) {}},
		nodePool("a", 10, "10.0.0.1"))
	var heard []string
	remove := s.AddListener(func(pool string) { heard = append(heard, pool) })
	expectHeard := func(step string, want ...string) {
		t.Helper()
		if !slices.Equal(heard, want) {
			t.Errorf("%s: listener heard %q, want %q", step, heard, want)
		}
		heard = nil
	}

	churn := nodePool("a", 11, "10.0.0.1")
	churn.Status.ReadyNodeNum = 7
	must(t, s.Update(churn))
	expectHeard("status churn")

	must(t, s.Update(nodePool("a", 12, "10.0.0.1", "not-an-ip")))
	expectHeard("a leader left out", "a")
	st, ok := s.State("a")
	if !ok || !st.Published || len(st.Invalid) != 1 || st.Pool.LeaderCount() != 1 {
		t.Errorf("State(a) = %+v, %v; want published with one leader and one left out", st, ok)
	}
	must(t, s.Update(nodePool("a", 13, "10.0.0.1", "not-an-ip")))
	expectHeard("the same leader left out again")

	long := fmt.Sprintf("%064d", 0)
	must(t, s.Add(nodePool(long, 14, "10.0.0.2")))
	expectHeard("an unpublishable pool", long)
	if st, ok := s.State(long); !ok || st.Published || st.Unpublishable == nil || st.Unpublishable.Reason != projection.ReasonInvalidPoolName {
		t.Errorf("State(long) = %+v, %v; want unpublished, InvalidPoolName", st, ok)
	}
	if names := s.PoolNames(); len(names) != 2 {
		t.Errorf("PoolNames = %q, want both pools", names)
	}

	must(t, s.Delete(nodePool("a", 15)))
	expectHeard("a delete", "a")
	if _, ok := s.State("a"); ok {
		t.Error("State(a) after the delete")
	}
	_ = s.Replace([]interface{}{nodePool("b", 16, "10.0.0.3")}, "16")
	slices.Sort(heard)
	expectHeard("a relist that adds b and drops the long one", long, "b")

	remove()
	must(t, s.Update(nodePool("b", 17, "10.0.0.4")))
	expectHeard("after remove")
}

// storeRV is the newest NodePool resource version the store has seen.
func storeRV(s *Store) uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rv
}

// TestPathsThatEndEveryWatch: the three ways the view ends all its watches
// at once (docs/design.md, "Semantics of the view"). Each watcher first gets
// what was queued for it, then its result channel closes, as after a
// kube-apiserver watch cache reinitialization; the view serves on, at the
// version it has, for the resumption or relist that follows.
func TestPathsThatEndEveryWatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, s *Store, cancel context.CancelFunc)
		// rv is the view's version afterwards.
		rv string
		// shutdown: new watches are refused afterwards.
		shutdown bool
	}{
		{"an event older than the view (a reflector watch started without a version)", func(t *testing.T, s *Store, _ context.CancelFunc) {
			must(t, s.Update(nodePool("a", 15, "10.0.0.9")))
		}, "20", false},
		{"a relist with a change at a version the view has passed (etcd restored, say)", func(t *testing.T, s *Store, _ context.CancelFunc) {
			must(t, s.Replace([]interface{}{nodePool("a", 18, "10.0.0.8"), nodePool("b", 20, "10.0.0.2")}, "20"))
		}, "20", false},
		{"the server shutting down (Run's context ends)", func(_ *testing.T, _ *Store, cancel context.CancelFunc) {
			cancel()
		}, "20", true},
		{"the shutdown delay over (EndWatches, Run still running)", func(t *testing.T, s *Store, _ context.CancelFunc) {
			if n, rv := s.EndWatches(context.Background()); n != 2 || rv != 20 {
				t.Errorf("EndWatches ended %d watches at %d, want 2 at 20", n, rv)
			}
		}, "20", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSyncedStore(t, Options{BookmarkInterval: time.Hour}, nodePool("a", 10, "10.0.0.1"), nodePool("b", 20, "10.0.0.2"))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ran := make(chan struct{})
			go func() { s.Run(ctx); close(ran) }()
			all := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "20"})
			one := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "20",
				FieldSelector: fields.OneTermEqualSelector("metadata.name", "leader-hub-b")})
			tc.end(t, s, cancel)
			for name, w := range map[string]watch.Interface{"all": all, "one pool": one} {
				deadline := time.After(time.Second)
			drain:
				for {
					select {
					case _, ok := <-w.ResultChan():
						if !ok {
							break drain
						}
					case <-deadline:
						t.Fatalf("the watch of %s did not end", name)
					}
				}
			}
			list, err := s.List(context.Background(), ns, &metainternalversion.ListOptions{})
			if err != nil || list.ResourceVersion != tc.rv {
				t.Errorf("the view lists at %v afterwards (%v), want %s", list.ResourceVersion, err, tc.rv)
			}
			if tc.shutdown {
				if ctx.Err() != nil {
					<-ran
				}
				// A client that comes straight back gets no watch that would
				// hold the server's shutdown open.
				if w, err := s.Watch(context.Background(), ns, &metainternalversion.ListOptions{ResourceVersion: "20"}); !apierrors.IsServiceUnavailable(err) {
					if w != nil {
						w.Stop()
					}
					t.Errorf("a watch after the shutdown: %v, want 503", err)
				}
			}
		})
	}
}

// TestEndWatchesBookmarksFirst: at shutdown a watcher that allows bookmarks
// gets, after the events queued for it, a bookmark at the newest version
// (even one that changed no LeaderHub), so it resumes on another replica
// from a version that replica's history holds; then its watch ends. A
// watcher without bookmarks just ends.
func TestEndWatchesBookmarksFirst(t *testing.T) {
	s := newSyncedStore(t, Options{BookmarkInterval: time.Hour}, nodePool("a", 10, "10.0.0.1"), nodePool("b", 20, "10.0.0.2"))
	withBookmarks := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "20", AllowWatchBookmarks: true})
	without := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "20"})
	must(t, s.Update(nodePool("a", 25, "10.0.0.9")))
	must(t, s.Update(nodePool("b", 30, "10.0.0.2"))) // the same projection: no event, a newer version
	if n, rv := s.EndWatches(context.Background()); n != 2 || rv != 30 {
		t.Errorf("EndWatches ended %d watches at %d, want 2 at 30", n, rv)
	}
	for name, tc := range map[string]struct {
		w    watch.Interface
		want []string
	}{
		"with bookmarks": {withBookmarks, []string{"MODIFIED 25", "BOOKMARK 30"}},
		"without":        {without, []string{"MODIFIED 25"}},
	} {
		var got []string
		deadline := time.After(time.Second)
	drain:
		for {
			select {
			case ev, ok := <-tc.w.ResultChan():
				if !ok {
					break drain
				}
				obj, _ := ev.Object.(*leaderhub.LeaderHub)
				got = append(got, fmt.Sprintf("%s %s", ev.Type, obj.ResourceVersion))
			case <-deadline:
				t.Fatalf("%s: the watch did not end (got %v)", name, got)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
	}
}
