package viewstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
)

// fakeKube answers consistent reads as kube-apiserver would at version rv.
type fakeKube struct {
	rv    uint64
	pools []*appsv1beta2.NodePool
	err   error
	delay time.Duration

	revisions, lists atomic.Int64
}

func (f *fakeKube) Revision(context.Context) (uint64, error) {
	f.revisions.Add(1)
	time.Sleep(f.delay)
	return f.rv, f.err
}

func (f *fakeKube) List(context.Context) ([]*appsv1beta2.NodePool, uint64, error) {
	f.lists.Add(1)
	return f.pools, f.rv, f.err
}

// TestResumeFromAVersionOnlyKubeAPIServerHasReached: a watch resumes from a
// version another replica gave it, which this store has not reached (no
// NodePool event since its list). kube-apiserver confirms the version, so
// the watch starts at once; the events and bookmarks the store then gets at
// or before that version are the client's already and are skipped, and
// what comes after reaches it. A version kube-apiserver has not reached,
// or cannot confirm, is refused as too large, as before.
func TestResumeFromAVersionOnlyKubeAPIServerHasReached(t *testing.T) {
	t.Run("confirmed", func(t *testing.T) {
		s := newSyncedStore(t, Options{BookmarkInterval: 10 * time.Millisecond, FreshnessTimeout: time.Hour},
			nodePool("a", 10, "10.0.0.1"), nodePool("b", 20, "10.0.0.2"))
		kube := &fakeKube{rv: 40}
		s.SetConsistentReader(kube)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go s.Run(ctx)

		watchCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		w, err := s.Watch(watchCtx, ns, &metainternalversion.ListOptions{ResourceVersion: "35", AllowWatchBookmarks: true})
		if err != nil {
			t.Fatalf("a watch from 35, which kube-apiserver has reached: %v", err)
		}
		defer w.Stop()
		must(t, s.Update(nodePool("a", 30, "10.0.0.3"))) // the client has it
		time.Sleep(50 * time.Millisecond)                // bookmarks at 30 go out meanwhile
		must(t, s.Update(nodePool("b", 45, "10.0.0.4")))
		if ev := next(t, w); ev.Type != watch.Modified || rvOf(ev) != "45" {
			t.Errorf("first event %s at %s, want MODIFIED at 45 (nothing at or before 35)", ev.Type, rvOf(ev))
		}
		if ev := next(t, w); ev.Type != watch.Bookmark || rvOf(ev) != "45" {
			t.Errorf("then %s at %s, want a bookmark at 45", ev.Type, rvOf(ev))
		}
	})
	for _, tc := range []struct {
		name string
		kube *fakeKube
	}{
		{"kube-apiserver is older", &fakeKube{rv: 30}},
		{"kube-apiserver does not answer", &fakeKube{err: errors.New("connection refused")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSyncedStore(t, Options{FreshnessTimeout: 50 * time.Millisecond}, nodePool("a", 20, "10.0.0.1"))
			s.SetConsistentReader(tc.kube)
			w, err := s.Watch(context.Background(), ns, &metainternalversion.ListOptions{ResourceVersion: "35"})
			if w != nil {
				w.Stop()
			}
			if !storage.IsTooLargeResourceVersion(err) {
				t.Errorf("a watch from 35: %v, want too large", err)
			}
		})
	}
}

// TestResumeConfirmationsAreShared: many watchers resuming at once from a
// version the store has not reached cost kube-apiserver one read.
func TestResumeConfirmationsAreShared(t *testing.T) {
	s := newSyncedStore(t, Options{FreshnessTimeout: time.Hour}, nodePool("a", 20, "10.0.0.1"))
	kube := &fakeKube{rv: 40, delay: 50 * time.Millisecond}
	s.SetConsistentReader(kube)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			w, err := s.Watch(ctx, ns, &metainternalversion.ListOptions{ResourceVersion: fmt.Sprint(21 + i%19)})
			if err != nil {
				errs <- err
				return
			}
			w.Stop()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a resuming watch: %v", err)
	}
	if n := kube.revisions.Load(); n != 1 {
		t.Errorf("100 watchers resuming cost %d reads of kube-apiserver's version, want 1", n)
	}
}

// TestLastBookmarkAtKubeAPIServersVersion: at shutdown, the last bookmark
// carries kube-apiserver's newest version when a consistent list shows the
// NodePools publishing what the store publishes, and the store's own
// version otherwise (or when the list fails or is not newer). The watcher
// resumed from 20; the store then passed 25 with no event.
func TestLastBookmarkAtKubeAPIServersVersion(t *testing.T) {
	long := fmt.Sprintf("%064d", 0) // a name that cannot be published
	for _, tc := range []struct {
		name string
		kube *fakeKube
		want uint64
	}{
		{"the same pools, newer versions that change nothing", &fakeKube{rv: 50,
			pools: []*appsv1beta2.NodePool{nodePool("a", 41, "10.0.0.1"), nodePool("b", 42, "10.0.0.2")}}, 50},
		{"the same pools and one nothing is published for", &fakeKube{rv: 50,
			pools: []*appsv1beta2.NodePool{nodePool("a", 10, "10.0.0.1"), nodePool("b", 20, "10.0.0.2"), nodePool(long, 44, "10.0.0.5")}}, 50},
		{"a pool's leaders changed", &fakeKube{rv: 50,
			pools: []*appsv1beta2.NodePool{nodePool("a", 41, "10.0.0.9"), nodePool("b", 20, "10.0.0.2")}}, 25},
		{"a pool deleted", &fakeKube{rv: 50, pools: []*appsv1beta2.NodePool{nodePool("a", 10, "10.0.0.1")}}, 25},
		{"a pool added", &fakeKube{rv: 50,
			pools: []*appsv1beta2.NodePool{nodePool("a", 10, "10.0.0.1"), nodePool("b", 20, "10.0.0.2"), nodePool("c", 45, "10.0.0.3")}}, 25},
		{"the list is not newer", &fakeKube{rv: 15,
			pools: []*appsv1beta2.NodePool{nodePool("a", 10, "10.0.0.1")}}, 25},
		{"the list fails", &fakeKube{err: errors.New("connection refused")}, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSyncedStore(t, Options{BookmarkInterval: time.Hour}, nodePool("a", 10, "10.0.0.1"), nodePool("b", 20, "10.0.0.2"))
			s.SetConsistentReader(tc.kube)
			w := mustWatch(t, s, &metainternalversion.ListOptions{ResourceVersion: "20", AllowWatchBookmarks: true})
			must(t, s.Update(nodePool("b", 25, "10.0.0.2"))) // no event, a newer version
			if n, rv := s.EndWatches(context.Background()); n != 1 || rv != tc.want {
				t.Errorf("EndWatches ended %d watches at %d, want 1 at %d", n, rv, tc.want)
			}
			var got []string
			for ev := range w.ResultChan() {
				got = append(got, fmt.Sprintf("%s %s", ev.Type, ev.Object.(*leaderhub.LeaderHub).ResourceVersion))
			}
			if want := []string{fmt.Sprintf("BOOKMARK %d", tc.want)}; !slices.Equal(got, want) {
				t.Errorf("the watcher got %v, want %v", got, want)
			}
		})
	}
}
