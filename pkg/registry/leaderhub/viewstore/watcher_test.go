package viewstore

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
)

// poolsStore is a synced store of n pools, pool-000 … at versions 10 ….
func poolsStore(t *testing.T, opts Options, n int) *Store {
	t.Helper()
	pools := make([]*appsv1beta2.NodePool, 0, n)
	for i := 0; i < n; i++ {
		pools = append(pools, nodePool(fmt.Sprintf("pool-%03d", i), uint64(10+i), "10.0.0.1"))
	}
	return newSyncedStore(t, opts, pools...)
}

// TestFeederHandsOverInOrder: a watch that starts with more events than its
// buffer holds gets all of them, then the changes made meanwhile, in order,
// then the later ones straight from the store.
func TestFeederHandsOverInOrder(t *testing.T) {
	const pools, buffer = 50, 4
	s := poolsStore(t, Options{WatcherBuffer: buffer}, pools)
	w := mustWatch(t, s, &metainternalversion.ListOptions{}) // all pools as Added first
	// Changes while the feeder waits for the client: fewer than the buffer.
	rv := uint64(100)
	for i := 0; i < buffer; i++ {
		rv++
		if err := s.Update(nodePool("pool-000", rv, fmt.Sprintf("10.0.1.%d", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < pools; i++ {
		if ev := next(t, w); ev.Type != watch.Added {
			t.Fatalf("initial event %d: %s, want Added", i, ev.Type)
		}
	}
	for i := 0; i < buffer; i++ {
		ev := next(t, w)
		if got := ev.Object.(*leaderhub.LeaderHub).ResourceVersion; ev.Type != watch.Modified || got != strconv.Itoa(101+i) {
			t.Fatalf("change %d: %s at %s, want Modified at %d", i, ev.Type, got, 101+i)
		}
	}
	// The feeder has handed over: a later change comes from the store.
	waitFed(t, s, w)
	if err := s.Update(nodePool("pool-001", 200, "10.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Type != watch.Modified || ev.Object.(*leaderhub.LeaderHub).ResourceVersion != "200" {
		t.Fatalf("after the hand-over: %s %v", ev.Type, ev.Object)
	}
}

// TestWatcherDroppedWhileFed: a client that reads nothing while more changes
// come than its buffer holds is dropped; it still gets what was queued for
// it, then its watch ends.
func TestWatcherDroppedWhileFed(t *testing.T) {
	const pools, buffer = 20, 4
	s := poolsStore(t, Options{WatcherBuffer: buffer}, pools)
	w := mustWatch(t, s, &metainternalversion.ListOptions{})
	for i := 0; i <= buffer; i++ { // one more than pending holds
		if err := s.Update(nodePool("pool-000", uint64(100+i), fmt.Sprintf("10.0.1.%d", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for range w.ResultChan() {
		n++
	}
	if want := pools + buffer; n != want {
		t.Errorf("dropped watcher got %d events, want the %d initial and %d queued ones: %d", n, pools, buffer, want)
	}
}

// TestStopWhileFed: a client that stops before reading its initial events
// sees its channel closed; nothing is sent on a closed channel.
func TestStopWhileFed(t *testing.T) {
	s := poolsStore(t, Options{WatcherBuffer: 2}, 20)
	w, err := s.Watch(t.Context(), ns, &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next(t, w)
	w.Stop()
	must(t, s.Update(nodePool("pool-000", 100, "10.0.9.9")))
	deadline := time.After(time.Second)
	for {
		select {
		case _, ok := <-w.ResultChan():
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the channel of a stopped watch stays open")
		}
	}
}

// TestIdleWatchesHaveNoGoroutine: once a watch has its initial events, it
// costs no goroutine.
func TestIdleWatchesHaveNoGoroutine(t *testing.T) {
	s := poolsStore(t, Options{}, 10)
	before := runtime.NumGoroutine()
	const watches = 200
	for i := 0; i < watches; i++ {
		w := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "0",
			FieldSelector: fields.OneTermEqualSelector("metadata.name", fmt.Sprintf("leader-hub-pool-%03d", i%10))})
		next(t, w)
		waitFed(t, s, w)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before+watches/10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines for %d idle watches (%d before)", runtime.NumGoroutine(), watches, before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFed waits until w's feeder has handed over to the store.
func waitFed(t *testing.T, s *Store, w watch.Interface) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		s.mu.RLock()
		feeding := w.(*watcher).feeding
		s.mu.RUnlock()
		if !feeding {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the feeder did not hand over within a second")
		}
		time.Sleep(time.Millisecond)
	}
}
