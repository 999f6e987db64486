package leaders

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
	versionedfake "github.com/leaderhub/leaderhub/pkg/generated/clientset/versioned/fake"
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
	viewClient, kubeClient := versionedfake.NewClientset(), fake.NewClientset()
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
	viewClient, kubeClient := versionedfake.NewClientset(), fake.NewClientset()
	view.install(&viewClient.Fake, "leaderhubs")
	empty.install(&kubeClient.Fake, "endpoints")
	c, err := New(Options{Config: &rest.Config{Host: "https://unused"}, Pool: "p", Sources: []Source{SourceView, SourceEndpoints},
		ProbeInterval: 10 * time.Millisecond, MaxProbeInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c.view, c.kube = viewClient, kubeClient
	var rounds atomic.Int32
	c.backoff = func(ctx context.Context, base time.Duration) bool {
		rounds.Add(1)
		return sleep(ctx, base)
	}
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
