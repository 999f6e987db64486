package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/leaderhub/leaderhub/pkg/feed"
)

// recorder is a controller's sync that remembers what it was asked to do.
type recorder struct {
	mu      sync.Mutex
	synced  map[string]int
	failed  map[string]int
	failFor map[string]int // pool -> how many syncs fail first
	recheck map[string]time.Duration
}

func (r *recorder) sync(_ context.Context, pool string) (time.Duration, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.synced[pool]++
	if r.failFor[pool] > 0 {
		r.failFor[pool]--
		return 0, errors.New("boom")
	}
	d := r.recheck[pool]
	delete(r.recheck, pool) // once
	return d, nil
}

func (r *recorder) fail(pool string, _ int, _ error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed[pool]++
}

func (r *recorder) count(pool string) (synced, failed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.synced[pool], r.failed[pool]
}

// notifier is a feed.Notifier that counts its listeners.
type notifier struct {
	feed.Listeners
	mu        sync.Mutex
	listening int
}

func (n *notifier) AddListener(fn feed.Listener) func() {
	remove := n.Listeners.AddListener(fn)
	n.mu.Lock()
	n.listening++
	n.mu.Unlock()
	return func() {
		remove()
		n.mu.Lock()
		n.listening--
		n.mu.Unlock()
	}
}

func (n *notifier) listeners() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.listening
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil }); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// TestRunner: nothing is synced before the sources have synced; then every
// pool once; a pool a source names; a failed sync again with backoff, told
// to Failed; a recheck after its delay; every pool again at a resync, after
// BeforeResync; no listener left and the runner stopped once ctx ends.
func TestRunner(t *testing.T) {
	rec := &recorder{synced: map[string]int{}, failed: map[string]int{},
		failFor: map[string]int{"flaky": 2}, recheck: map[string]time.Duration{"later": 50 * time.Millisecond}}
	source := &notifier{}
	var synced sync.Mutex
	isSynced, polls := false, 0
	var resyncs sync.WaitGroup
	resyncs.Add(1)
	var once sync.Once
	r := New(Config{
		Name: "test", Workers: 3, Sources: []feed.Notifier{source},
		Synced: []cache.InformerSynced{func() bool {
			synced.Lock()
			defer synced.Unlock()
			polls++
			return isSynced
		}},
		Pools: func() []string { return []string{"a", "flaky", "later"} },
		// Long enough that the first resync comes after the checks below.
		ResyncPeriod: 2 * time.Second,
		BeforeResync: func() { once.Do(resyncs.Done) },
		Sync:         rec.sync,
		Failed:       rec.fail,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	waitFor(t, "the runner to start", r.Running)

	// The runner's queue listens before the sources have synced: a pool
	// named then is queued, but nothing is synced until they have (the
	// runner is seen polling Synced meanwhile).
	waitFor(t, "the runner's listener", func() bool { return source.listeners() == 1 })
	source.Notify("early")
	waitFor(t, "the runner waiting for its sources", func() bool {
		synced.Lock()
		defer synced.Unlock()
		return polls >= 3
	})
	if n, _ := rec.count("early"); n != 0 {
		t.Fatalf("pool early synced %d times before the sources synced", n)
	}
	synced.Lock()
	isSynced = true
	synced.Unlock()

	waitFor(t, "every pool synced", func() bool {
		a, _ := rec.count("a")
		early, _ := rec.count("early")
		return a == 1 && early == 1
	})
	waitFor(t, "the flaky pool retried to success", func() bool {
		n, failed := rec.count("flaky")
		return n == 3 && failed == 2
	})
	waitFor(t, "the recheck", func() bool { n, _ := rec.count("later"); return n == 2 })

	source.Notify("named")
	waitFor(t, "a pool a source names", func() bool { n, _ := rec.count("named"); return n == 1 })

	resyncs.Wait()
	waitFor(t, "every pool again at the resync", func() bool { a, _ := rec.count("a"); return a >= 2 })

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after ctx ended")
	}
	if r.Running() {
		t.Error("the runner says it runs after Run returned")
	}
	if n := source.listeners(); n != 0 {
		t.Errorf("%d listeners left after Run returned", n)
	}
}

// TestRunWaitsForThePreviousRun: a run started while the last one is still
// finishing a pool (a controller lease regained during the previous term's
// shutdown) waits for it, then runs: it is not skipped. WaitStopped returns
// only once no run runs.
func TestRunWaitsForThePreviousRun(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	syncs := 0
	r := New(Config{Name: "test", Workers: 1,
		Synced: []cache.InformerSynced{func() bool { return true }},
		Pools:  func() []string { return []string{"p"} },
		Sync: func(ctx context.Context, _ string) (time.Duration, error) {
			mu.Lock()
			syncs++
			first := syncs == 1
			mu.Unlock()
			if first {
				<-release // the first term's sync outlives its context
			}
			return 0, nil
		},
		Failed: func(string, int, error) {},
	})
	count := func() int { mu.Lock(); defer mu.Unlock(); return syncs }

	first, endFirst := context.WithCancel(context.Background())
	firstDone := make(chan struct{})
	go func() { defer close(firstDone); r.Run(first) }()
	waitFor(t, "the first run's sync", func() bool { return count() == 1 })
	endFirst()

	second, endSecond := context.WithCancel(context.Background())
	defer endSecond()
	secondDone := make(chan struct{})
	go func() { defer close(secondDone); r.Run(second) }()
	stopped := make(chan struct{})
	go func() { defer close(stopped); r.WaitStopped(context.Background()) }()
	select {
	case <-secondDone:
		t.Fatal("the second run returned while the first was still running")
	case <-stopped:
		t.Fatal("WaitStopped returned while the first run was still running")
	case <-time.After(100 * time.Millisecond):
	}
	if n := count(); n != 1 {
		t.Fatalf("%d syncs while the first run was finishing, want 1", n)
	}

	close(release)
	<-firstDone
	waitFor(t, "the second run's sync", func() bool { return count() == 2 })
	if !r.Running() {
		t.Error("the second run is not running")
	}
	endSecond()
	<-secondDone
	<-stopped
	r.WaitStopped(context.Background()) // none running: returns at once
	if r.Running() {
		t.Error("running after both runs returned")
	}
}

// TestEnqueueAllIsPaced: the start queues every pool, but never more than
// MaxQueued waiting at once, so a pool a source names meanwhile is synced
// after at most that many, not after every pool; and every pool is still
// synced once.
func TestEnqueueAllIsPaced(t *testing.T) {
	const pools, maxQueued = 1000, 4
	names := make([]string, pools)
	for i := range names {
		names[i] = fmt.Sprintf("p%04d", i)
	}
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	source := &notifier{}
	r := New(Config{Name: "test", Workers: 1, MaxQueued: maxQueued, Sources: []feed.Notifier{source},
		Synced: []cache.InformerSynced{func() bool { return true }},
		Pools:  func() []string { return names },
		Sync: func(_ context.Context, pool string) (time.Duration, error) {
			mu.Lock()
			order = append(order, pool)
			first := len(order) == 1
			mu.Unlock()
			if first {
				<-release // the queue fills meanwhile
			}
			return 0, nil
		},
		Failed: func(string, int, error) {},
	})
	synced := func() int { mu.Lock(); defer mu.Unlock(); return len(order) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "the first sync", func() bool { return synced() == 1 })
	source.Notify("changed")
	close(release)
	waitFor(t, "every pool synced", func() bool { return synced() == pools+1 })
	mu.Lock()
	defer mu.Unlock()
	at := slices.Index(order, "changed")
	if at < 0 || at > maxQueued+1 {
		t.Errorf("the changed pool was synced %dth, want within the first %d", at+1, maxQueued+2)
	}
	seen := sets.New(order...)
	if seen.Len() != pools+1 {
		t.Errorf("%d distinct pools synced, want %d", seen.Len(), pools+1)
	}
}

// BenchmarkEnqueueAll is what queuing every pool costs: 10,000 pools, a
// sync that does nothing, 4 workers, from the start until every pool is
// synced; per pool.
func BenchmarkEnqueueAll(b *testing.B) {
	const pools = 10_000
	names := make([]string, pools)
	for i := range names {
		names[i] = fmt.Sprintf("pool-%05d", i)
	}
	klog.LogToStderr(false) // a start line per iteration
	klog.SetOutput(io.Discard)
	b.Cleanup(func() { klog.LogToStderr(true) })
	b.ReportAllocs()
	for b.Loop() {
		var synced atomic.Int64
		done := make(chan struct{})
		r := New(Config{Name: "bench", Workers: 4,
			Synced: []cache.InformerSynced{func() bool { return true }},
			Pools:  func() []string { return names },
			Sync: func(context.Context, string) (time.Duration, error) {
				if synced.Add(1) == pools {
					close(done)
				}
				return 0, nil
			},
			Failed: func(string, int, error) {},
		})
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { defer close(stopped); r.Run(ctx) }()
		<-done
		cancel()
		<-stopped
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/pools, "ns/pool")
}
