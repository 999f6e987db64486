package framework

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	leaderhubv1alpha1 "github.com/leaderhub/leaderhub/client/generated/clientset/versioned/typed/leaderhub/v1alpha1"
)

// LeaderHubLeaders is a LeaderHub's leaders as "node/ip,node/ip".
func LeaderHubLeaders(lh *v1alpha1.LeaderHub) string {
	var got []string
	for _, s := range lh.Subsets {
		for _, a := range s.Addresses {
			got = append(got, ptr.Deref(a.NodeName, "")+"/"+a.IP)
		}
	}
	return strings.Join(got, ",")
}

// ResumingWatcher watches one LeaderHub as client-go's reflector does: it
// resumes a watch that ends from the last version it saw (bookmarks
// included) and lists only when that is answered 410 Gone. It counts what
// restarts of leaderhub cost it, and when each leaders value reached it.
type ResumingWatcher struct {
	client leaderhubv1alpha1.LeaderHubInterface
	// Name is the LeaderHub's name.
	Name string
	rv   string

	mu sync.Mutex
	// seen is when each leaders value first arrived.
	seen map[string]time.Time
	last string
	// failures counts refused attempts by status and reason.
	failures map[string]int
	// resumes are how long each resumption took, from the end of a watch
	// to the next one started (relists included).
	resumes []time.Duration

	// Lists counts LISTs after the first (each after a 410), Gones the 410
	// answers, Reconnects the watches resumed after one ended, Failures
	// the attempts refused otherwise (503 while no replica serves) and
	// retried. client-go's reflector lists again after such a failure,
	// too (from its last version, which a replica serves without a 410);
	// this watcher resumes its watch instead.
	Lists, Gones, Reconnects, Failures atomic.Int64
	// watching is set while a watch is open.
	watching atomic.Bool
}

// Watching reports whether the watcher has a watch open now.
func (w *ResumingWatcher) Watching() bool { return w.watching.Load() }

// NewResumingWatcher watches the LeaderHub called name through client.
func NewResumingWatcher(client leaderhubv1alpha1.LeaderHubInterface, name string) *ResumingWatcher {
	return &ResumingWatcher{client: client, Name: name, seen: map[string]time.Time{}, failures: map[string]int{}}
}

// record notes an event's object and its version.
func (w *ResumingWatcher) record(lh *v1alpha1.LeaderHub) {
	w.rv = lh.ResourceVersion
	w.note(lh)
}

// note notes the leaders of lh.
func (w *ResumingWatcher) note(lh *v1alpha1.LeaderHub) {
	leaders := LeaderHubLeaders(lh)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.seen[leaders]; !ok {
		w.seen[leaders] = time.Now()
	}
	w.last = leaders
}

// fail counts an attempt refused with err.
func (w *ResumingWatcher) fail(err error) {
	w.Failures.Add(1)
	reason := "not an API error: " + err.Error()
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		// The message too: kube-apiserver's aggregator and the replica
		// both answer 503, for different reasons.
		msg := status.Status().Message
		if len(msg) > 60 {
			msg = msg[:60] + "…"
		}
		reason = fmt.Sprintf("%d %s: %s", status.Status().Code, status.Status().Reason, msg)
	}
	w.mu.Lock()
	w.failures[reason]++
	w.mu.Unlock()
}

// FailureReasons counts the refused attempts by HTTP status and reason.
func (w *ResumingWatcher) FailureReasons() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.failures)
}

// Resumes returns how long each resumption took, from the end of a watch
// to the next one started.
func (w *ResumingWatcher) Resumes() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.resumes)
}

// Current is the leaders the watcher holds now.
func (w *ResumingWatcher) Current() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// SeenAt is when leaders first reached the watcher.
func (w *ResumingWatcher) SeenAt(leaders string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at, ok := w.seen[leaders]
	return at, ok
}

// List lists the watcher's object, as a reflector's first step (Run's
// relists are counted; this one is not).
func (w *ResumingWatcher) List(ctx context.Context) error {
	list, err := w.client.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + w.Name})
	if err != nil {
		return err
	}
	w.StartFrom(list)
	return nil
}

// StartFrom takes list (of the watcher's object, made by another watcher
// of it, say) as the watcher's first list.
func (w *ResumingWatcher) StartFrom(list *v1alpha1.LeaderHubList) {
	w.rv = list.ResourceVersion // the list's, never an item's older one
	for i := range list.Items {
		if list.Items[i].Name == w.Name {
			w.note(&list.Items[i])
		}
	}
}

// newClientBackoff is client-go's reflector back-off between attempts
// that fail: 800ms, doubling, jittered, up to 30s.
func newClientBackoff() wait.Backoff {
	return wait.Backoff{Duration: 800 * time.Millisecond, Factor: 2, Jitter: 1, Steps: math.MaxInt32, Cap: 30 * time.Second}
}

// Run watches until ctx ends; List or StartFrom comes first. An attempt
// that fails is retried after client-go's reflector back-off.
func (w *ResumingWatcher) Run(ctx context.Context) {
	backoff := newClientBackoff()
	pause := func() {
		select {
		case <-ctx.Done():
		case <-time.After(backoff.Step()):
		}
	}
	relist := func() {
		w.Gones.Add(1)
		w.Lists.Add(1)
		for ctx.Err() == nil && w.List(ctx) != nil {
			pause()
		}
	}
	var ended time.Time // when the last watch ended; zero before the first
	for ctx.Err() == nil {
		wi, err := w.client.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + w.Name,
			ResourceVersion: w.rv, AllowWatchBookmarks: true})
		switch {
		case apierrors.IsGone(err) || apierrors.IsResourceExpired(err):
			relist()
			continue
		case err != nil:
			w.fail(err)
			pause()
			continue
		}
		backoff = newClientBackoff()
		w.watching.Store(true)
		if !ended.IsZero() {
			w.mu.Lock()
			w.resumes = append(w.resumes, time.Since(ended))
			w.mu.Unlock()
		}
		for ev := range wi.ResultChan() {
			switch ev.Type {
			case watch.Error:
				if err := apierrors.FromObject(ev.Object); apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
					relist()
				} else {
					w.fail(err)
				}
			case watch.Bookmark:
				if lh, ok := ev.Object.(*v1alpha1.LeaderHub); ok {
					w.rv = lh.ResourceVersion
				}
			default:
				if lh, ok := ev.Object.(*v1alpha1.LeaderHub); ok {
					w.record(lh)
				}
			}
		}
		wi.Stop()
		w.watching.Store(false)
		if ctx.Err() == nil {
			w.Reconnects.Add(1)
			ended = time.Now()
		}
	}
}
