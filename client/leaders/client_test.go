package leaders

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	versionedfake "github.com/leaderhub/leaderhub/client/generated/clientset/versioned/fake"
)

// fakeSource makes one resource of a fake clientset a source the test
// switches: down (every list and watch fails), up (a watch-list delivers
// obj, and later watches stay open), or up once (the first watch-list
// delivers, every call after it fails, as a source that answered and then
// broke).
type fakeSource struct {
	state atomic.Int32 // down, up or upOnce
	used  atomic.Bool  // upOnce has answered
	obj   runtime.Object
	list  runtime.Object
}

const (
	down int32 = iota
	up
	upOnce
)

var errDown = errors.New("source down")

func (f *fakeSource) available() bool {
	switch f.state.Load() {
	case up:
		return true
	case upOnce:
		return !f.used.Load()
	}
	return false
}

func (f *fakeSource) install(c *k8stesting.Fake, resource string) {
	c.PrependReactor("list", resource, func(k8stesting.Action) (bool, runtime.Object, error) {
		if !f.available() {
			return true, nil, errDown
		}
		return true, f.list.DeepCopyObject(), nil
	})
	c.PrependWatchReactor(resource, func(action k8stesting.Action) (bool, watch.Interface, error) {
		if !f.available() {
			return true, nil, errDown
		}
		opts := action.(k8stesting.WatchActionImpl).ListOptions
		if opts.SendInitialEvents == nil || !*opts.SendInitialEvents {
			return true, watch.NewFake(), nil // a resumed watch: nothing new
		}
		if f.state.Load() == upOnce {
			f.used.Store(true)
		}
		w := watch.NewFakeWithChanSize(2, false)
		if f.obj != nil { // nil: the source holds no object of the pool
			w.Add(f.obj.DeepCopyObject())
		}
		end := &v1alpha1.LeaderHub{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "10",
			Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}}}
		if _, ok := f.list.(*corev1.EndpointsList); ok {
			w.Action(watch.Bookmark, &corev1.Endpoints{ObjectMeta: end.ObjectMeta})
		} else {
			w.Action(watch.Bookmark, end)
		}
		return true, w, nil
	})
}

// viewSource is a view holding the pool's LeaderHub, with one leader.
func viewSource(meta metav1.ObjectMeta, ip string) *fakeSource {
	lh := &v1alpha1.LeaderHub{ObjectMeta: meta, Subsets: []v1alpha1.LeaderHubSubset{{
		Addresses: []v1alpha1.LeaderHubAddress{{IP: ip}}, Ports: []v1alpha1.LeaderHubPort{{Name: "https", Port: 10269}}}}}
	return &fakeSource{obj: lh, list: &v1alpha1.LeaderHubList{ListMeta: metav1.ListMeta{ResourceVersion: "10"}, Items: []v1alpha1.LeaderHub{*lh}}}
}

// countRounds has the client count its rounds of failures (its backoff
// pauses), which it still takes as usual.
func countRounds(c *Client) *atomic.Int32 {
	var rounds atomic.Int32
	c.backoff = func(ctx context.Context, base time.Duration) bool {
		rounds.Add(1)
		return sleep(ctx, base)
	}
	return &rounds
}

// runInBackground runs the client until the test ends, and checks that
// Run then returns no error.
func runInBackground(t *testing.T, c *Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func subset(ip string) []corev1.EndpointSubset {
	return []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: ip}},
		Ports: []corev1.EndpointPort{{Name: "https", Port: 10269}}}}
}

// TestRunBacksOffAndSwitchesUp drives the client's loop over fake sources
// (the view, then the Endpoints form). While every source fails, the pause
// between rounds doubles up to MaxProbeInterval; a source that answered
// before it failed starts the backoff afresh; on a lower source, the client
// probes the better one and switches back up as soon as it answers.
func TestRunBacksOffAndSwitchesUp(t *testing.T) {
	meta := metav1.ObjectMeta{Name: v1alpha1.ObjectName("p"), Namespace: "kube-system", ResourceVersion: "10"}
	view := viewSource(meta, "10.0.0.1")
	endpoints := &fakeSource{obj: &corev1.Endpoints{ObjectMeta: meta, Subsets: subset("10.0.0.2")}}
	endpoints.list = &corev1.EndpointsList{ListMeta: metav1.ListMeta{ResourceVersion: "10"}, Items: []corev1.Endpoints{*endpoints.obj.(*corev1.Endpoints)}}
	viewClient, kubeClient := versionedfake.NewSimpleClientset(), fake.NewClientset()
	view.install(&viewClient.Fake, "leaderhubs")
	endpoints.install(&kubeClient.Fake, "endpoints")

	const probe, maxProbe = 10 * time.Millisecond, 80 * time.Millisecond
	c, err := New(Options{Config: &rest.Config{Host: "https://unused"}, Pool: "p", Sources: []Source{SourceView, SourceEndpoints},
		ProbeInterval: probe, MaxProbeInterval: maxProbe})
	if err != nil {
		t.Fatal(err)
	}
	c.view, c.kube = viewClient, kubeClient
	// The loop's pauses between rounds are recorded, and each waits for
	// the test to let the next round start.
	var mu sync.Mutex
	var bases []time.Duration
	proceed := make(chan struct{})
	c.backoff = func(ctx context.Context, base time.Duration) bool {
		mu.Lock()
		bases = append(bases, base)
		mu.Unlock()
		select {
		case <-proceed:
			return true
		case <-ctx.Done():
			return false
		}
	}
	recorded := func(n int) []time.Duration {
		t.Helper()
		var got []time.Duration
		err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			got = slices.Clone(bases)
			return len(got) >= n, nil
		})
		if err != nil {
			t.Fatalf("the loop paused %d times, want %d: %v", len(got), n, got)
		}
		return got
	}
	runInBackground(t, c)

	// Every source down: the pauses double, up to the maximum.
	for i := range 4 {
		recorded(i + 1)
		proceed <- struct{}{}
	}
	got := recorded(5)
	if want := []time.Duration{probe, 2 * probe, 4 * probe, 8 * probe, maxProbe}; !slices.Equal(got, want) {
		t.Fatalf("pauses while every source fails: %v, want %v", got, want)
	}
	if _, ok := c.Current(); ok {
		t.Fatal("a Config with no source answering")
	}
	if got := gathered(t, c, "leaderhub_client_stale"); got != 1 {
		t.Errorf("stale = %v with no source answering, want 1", got)
	}

	// The view answers once, then fails: its Config is delivered, and the
	// next pause starts from ProbeInterval again.
	view.state.Store(upOnce)
	proceed <- struct{}{}
	got = recorded(6)
	if got[5] != probe {
		t.Errorf("pause after a source answered and then failed: %v, want %v (backoff reset)", got[5], probe)
	}
	if cfg := <-c.Changes(); cfg.Source != SourceView || len(cfg.Leaders) != 1 || cfg.Leaders[0].IP != "10.0.0.1" {
		t.Errorf("delivered %+v, want the view's leader", cfg)
	}

	// The Endpoints form answers and stays: the client follows it, probes
	// the view meanwhile, and switches back up once the view answers.
	view.state.Store(down)
	endpoints.state.Store(up)
	proceed <- struct{}{}
	if cfg := <-c.Changes(); cfg.Source != SourceEndpoints || cfg.Leaders[0].IP != "10.0.0.2" {
		t.Fatalf("delivered %+v, want the Endpoints form's leader", cfg)
	}
	view.state.Store(up)
	select {
	case cfg := <-c.Changes():
		if cfg.Source != SourceView || cfg.Leaders[0].IP != "10.0.0.1" {
			t.Errorf("delivered %+v after the view came back, want the view's leader", cfg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not switch back to the view")
	}
	if n := len(recorded(6)); n != 6 {
		t.Errorf("the loop paused %d times; switching sources is no round of failures", n)
	}
	// The client's own metrics: the view in use, two switches (view →
	// Endpoints → view), not stale, a last update.
	for series, want := range map[string]float64{
		`leaderhub_client_source{source="view"}`: 1, `leaderhub_client_source{source="endpoints"}`: 0,
		"leaderhub_client_source_switches_total": 2, "leaderhub_client_stale": 0,
	} {
		if got := gathered(t, c, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if got := gathered(t, c, "leaderhub_client_last_update_timestamp_seconds"); got < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last update at %v, want within the last minute", got)
	}
}

// gathered reads one series of the client's registry.
func gathered(t *testing.T, c *Client, series string) float64 {
	t.Helper()
	families, err := c.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += fmt.Sprintf(`{%s=%q}`, l.GetName(), l.GetValue())
			}
			if name != series {
				continue
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s", series)
	return 0
}

// TestChangesKeepTheNewest: a receiver that falls behind gets the newest
// Config, not a backlog; a Config with the same content as the last is not
// delivered again, though Current records where it came from.
func TestChangesKeepTheNewest(t *testing.T) {
	c, err := New(Options{Config: &rest.Config{Host: "https://unused"}, Pool: "p"})
	if err != nil {
		t.Fatal(err)
	}
	a := Config{Exists: true, Source: SourceView, Leaders: []Leader{newLeader("a", "10.0.0.1", 10269)}}
	b := Config{Exists: true, Source: SourceView, Leaders: []Leader{newLeader("b", "10.0.0.2", 10269)}}
	c.update("p", a)
	c.update("p", b)
	if got := <-c.Changes(); got.Leaders[0].NodeName != "b" {
		t.Errorf("a receiver that fell behind got %+v, want the newest", got)
	}
	again := b
	again.Source = SourceEndpoints
	c.update("p", again)
	select {
	case got := <-c.Changes():
		t.Errorf("the same content was delivered again: %+v", got)
	default:
	}
	if cur, _ := c.Current(); cur.Source != SourceEndpoints {
		t.Errorf("Current is from %s, want the last source read", cur.Source)
	}
}

// TestEmptyFallbackKeepsTheLeaders: once the view has answered, a fallback
// form that holds no object of the pool (not materialized, or not readable
// yet) while the view fails delivers nothing: the client keeps the leaders
// it knew, round after round. Only the view says a pool is gone.
func TestEmptyFallbackKeepsTheLeaders(t *testing.T) {
	meta := metav1.ObjectMeta{Name: v1alpha1.ObjectName("p"), Namespace: "kube-system", ResourceVersion: "10"}
	view := viewSource(meta, "10.0.0.1")
	empty := &fakeSource{list: &corev1.EndpointsList{ListMeta: metav1.ListMeta{ResourceVersion: "10"}}}
	viewClient, kubeClient := versionedfake.NewSimpleClientset(), fake.NewClientset()
	view.install(&viewClient.Fake, "leaderhubs")
	empty.install(&kubeClient.Fake, "endpoints")
	c, err := New(Options{Config: &rest.Config{Host: "https://unused"}, Pool: "p", Sources: []Source{SourceView, SourceEndpoints},
		ProbeInterval: 10 * time.Millisecond, MaxProbeInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c.view, c.kube = viewClient, kubeClient
	rounds := countRounds(c)
	view.state.Store(upOnce)
	empty.state.Store(up)
	runInBackground(t, c)
	if cfg := <-c.Changes(); cfg.Source != SourceView || !cfg.Exists || len(cfg.Leaders) != 1 {
		t.Fatalf("delivered %+v, want the view's leader", cfg)
	}
	// Several rounds in which the view fails and the Endpoints form
	// answers without the pool's object.
	if err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return rounds.Load() >= 5, nil
	}); err != nil {
		t.Fatalf("the loop went through %d rounds, want 5", rounds.Load())
	}
	select {
	case cfg := <-c.Changes():
		t.Errorf("delivered %+v after the view failed, want nothing", cfg)
	default:
	}
	if cfg, ok := c.Current(); !ok || !cfg.Exists || cfg.Source != SourceView || len(cfg.Leaders) != 1 {
		t.Errorf("current Config %+v, want the view's leader still", cfg)
	}
}

// TestCachedConfigConfirmed: a source that answers with what the cache
// file holds delivers it again, no longer stale, so a receiver waiting for
// a confirmed Config (leaderhub-watch --once) gets one at once.
func TestCachedConfigConfirmed(t *testing.T) {
	viewClient := viewAnswering(metav1.ObjectMeta{Name: v1alpha1.ObjectName("p"), Namespace: "kube-system", ResourceVersion: "10"}, "10.0.0.1")
	file := filepath.Join(t.TempDir(), "leaders.json")
	if err := writeCache(file, &Config{Pool: "p", Exists: true, Source: SourceView, Leaders: []Leader{newLeader("", "10.0.0.1", 10269)}}); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Config: &rest.Config{Host: "https://unused"}, Pool: "p", Sources: []Source{SourceView}, CacheFile: file})
	if err != nil {
		t.Fatal(err)
	}
	c.view = viewClient
	runInBackground(t, c)
	// The cached Config (stale) comes first, unless the confirmation
	// replaced it before it was read; the confirmation must come.
	timeout := time.After(10 * time.Second)
	for {
		select {
		case cfg := <-c.Changes():
			if cfg.Stale {
				continue
			}
			if cfg.Source != SourceView || len(cfg.Leaders) != 1 || cfg.Leaders[0].IP != "10.0.0.1" {
				t.Errorf("delivered %+v, want the view's confirmation", cfg)
			}
			return
		case <-timeout:
			t.Fatal("the view's confirmation of the cached Config was not delivered")
		}
	}
}

// viewAnswering is a fake view that serves one LeaderHub.
func viewAnswering(meta metav1.ObjectMeta, ip string) *versionedfake.Clientset {
	view := viewSource(meta, ip)
	view.state.Store(up)
	viewClient := versionedfake.NewSimpleClientset()
	view.install(&viewClient.Fake, "leaderhubs")
	return viewClient
}

// TestForeignObjectsRefused: a view that answers with another pool's
// object (or an object of another type) says nothing of this pool: the
// object is refused, the client keeps what it knew and moves on, nothing
// panics.
func TestForeignObjectsRefused(t *testing.T) {
	other := metav1.ObjectMeta{Name: v1alpha1.ObjectName("q"), Namespace: "kube-system", ResourceVersion: "10"}
	viewClient := viewAnswering(other, "10.0.0.7")
	c, err := New(Options{Config: &rest.Config{Host: "https://unused"}, Pool: "p", Sources: []Source{SourceView},
		ProbeInterval: time.Millisecond, MaxProbeInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c.view = viewClient
	rounds := countRounds(c)
	runInBackground(t, c)
	if err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return rounds.Load() >= 3, nil
	}); err != nil {
		t.Fatal("the client did not go on after the foreign object")
	}
	if cfg, ok := c.Current(); ok {
		t.Errorf("a Config from another pool's object: %+v", cfg)
	}
	// And the parse functions never see a foreign object: every source's
	// belongs refuses another type and another name.
	for _, src := range newSources(DefaultSources, viewClient, fake.NewClientset(), "kube-system", "p") {
		for _, obj := range []runtime.Object{&corev1.Pod{}, &v1alpha1.LeaderHub{ObjectMeta: other}, &corev1.Endpoints{ObjectMeta: other},
			&corev1.ConfigMap{ObjectMeta: other}, &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{v1alpha1.LabelPoolName: "q"}}}} {
			if src.belongs(obj) {
				t.Errorf("%s takes %T %s as the pool's", src.name, obj, other.Name)
			}
		}
	}
}

// TestFollowsTheNodesPool: with a node name, the client waits for the
// Node's pool label, follows that pool, and follows the Node to a new pool:
// found by reading the label again every MaxProbeInterval, or at once when
// the view refuses the old pool (the node authorizer: the Node moved), with
// that period too long to matter.
func TestFollowsTheNodesPool(t *testing.T) {
	for _, tc := range []struct {
		name        string
		maxInterval time.Duration
		// endWatch ends the pool's watch after the move, so the client
		// resumes it and is refused.
		endWatch bool
	}{
		{name: "label read again on a period", maxInterval: 10 * time.Millisecond},
		{name: "the view refuses the old pool", maxInterval: time.Hour, endWatch: true},
	} {
		t.Run(tc.name, func(t *testing.T) { testFollowsTheNodesPool(t, tc.maxInterval, tc.endWatch) })
	}
}

func testFollowsTheNodesPool(t *testing.T, maxInterval time.Duration, endWatch bool) {
	var label atomic.Value
	label.Store("")
	viewClient := versionedfake.NewSimpleClientset()
	lh := func(pool, ip string) *v1alpha1.LeaderHub {
		return &v1alpha1.LeaderHub{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.ObjectName(pool), Namespace: "kube-system", ResourceVersion: "10"},
			Subsets: []v1alpha1.LeaderHubSubset{{Addresses: []v1alpha1.LeaderHubAddress{{IP: ip}}, Ports: []v1alpha1.LeaderHubPort{{Name: "https", Port: 10269}}}}}
	}
	objects := map[string]*v1alpha1.LeaderHub{v1alpha1.ObjectName("p"): lh("p", "10.0.0.1"), v1alpha1.ObjectName("q"): lh("q", "10.0.0.2")}
	var watching atomic.Pointer[watch.FakeWatcher] // the last watch opened
	// The view serves a pool's object only to a node of that pool.
	allowed := func(fieldSelector string) (*v1alpha1.LeaderHub, error) {
		name := strings.TrimPrefix(fieldSelector, "metadata.name=")
		if v1alpha1.ObjectName(label.Load().(string)) != name {
			return nil, apierrors.NewForbidden(schema.GroupResource{Resource: "leaderhubs"}, name, errors.New("not the node's pool"))
		}
		return objects[name], nil
	}
	viewClient.PrependReactor("list", "leaderhubs", func(action k8stesting.Action) (bool, runtime.Object, error) {
		obj, err := allowed(action.(k8stesting.ListActionImpl).ListOptions.FieldSelector)
		if err != nil {
			return true, nil, err
		}
		return true, &v1alpha1.LeaderHubList{ListMeta: metav1.ListMeta{ResourceVersion: "10"}, Items: []v1alpha1.LeaderHub{*obj}}, nil
	})
	viewClient.PrependWatchReactor("leaderhubs", func(action k8stesting.Action) (bool, watch.Interface, error) {
		opts := action.(k8stesting.WatchActionImpl).ListOptions
		obj, err := allowed(opts.FieldSelector)
		if err != nil {
			return true, nil, err
		}
		if opts.SendInitialEvents == nil || !*opts.SendInitialEvents {
			// Resumed: refused above while the node is in another pool,
			// else open until the test ends it.
			w := watch.NewFake()
			watching.Store(w)
			return true, w, nil
		}
		w := watch.NewFakeWithChanSize(2, false)
		w.Add(obj.DeepCopy())
		w.Action(watch.Bookmark, &v1alpha1.LeaderHub{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "10",
			Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}}})
		watching.Store(w)
		return true, w, nil
	})
	c, err := New(Options{Config: &rest.Config{Host: "https://unused"}, NodeName: "n1", Sources: []Source{SourceView},
		ProbeInterval: 4 * time.Millisecond, MaxProbeInterval: maxInterval})
	if err != nil {
		t.Fatal(err)
	}
	c.view = viewClient
	var reads atomic.Int32
	c.nodePool = func(context.Context) (string, error) {
		reads.Add(1)
		return label.Load().(string), nil
	}
	runInBackground(t, c)
	// No label yet: the client waits, reading it again.
	if err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return reads.Load() >= 3, nil
	}); err != nil {
		t.Fatal("the client did not keep reading a missing pool label")
	}
	label.Store("p")
	if cfg := <-c.Changes(); cfg.Pool != "p" || len(cfg.Leaders) != 1 || cfg.Leaders[0].IP != "10.0.0.1" {
		t.Fatalf("delivered %+v, want pool p's leader", cfg)
	}
	// The node moves to q.
	label.Store("q")
	if endWatch {
		watching.Load().Stop()
	}
	select {
	case cfg := <-c.Changes():
		if cfg.Pool != "q" || len(cfg.Leaders) != 1 || cfg.Leaders[0].IP != "10.0.0.2" {
			t.Errorf("delivered %+v after the move, want pool q's leader", cfg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not follow the node to its new pool")
	}
}
