package viewstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage"

	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
)

// waitSynced waits, at most the freshness timeout, for the first NodePool list.
func (s *Store) waitSynced(ctx context.Context) error {
	if s.HasSynced() {
		return nil
	}
	timer := time.NewTimer(s.opts.FreshnessTimeout)
	defer timer.Stop()
	select {
	case <-s.syncedCh:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return apierrors.NewServiceUnavailable("leaderhub has not yet synced its NodePool cache")
	}
}

// waitForRV waits, at most the freshness timeout, until the store has seen
// resource version want; then it answers as kube-apiserver does for a
// version it does not have yet (too large, retry after a second).
func (s *Store) waitForRV(ctx context.Context, want uint64) error {
	timer := time.NewTimer(s.opts.FreshnessTimeout)
	defer timer.Stop()
	for {
		s.mu.RLock()
		have, changed := s.rv, s.rvChanged
		s.mu.RUnlock()
		if have >= want {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return storage.NewTooLargeResourceVersionError(want, have, 1)
		}
	}
}

// waitForResume waits until a watch can resume from version want: the
// store has reached it, or kube-apiserver has (a consistent read says so).
// In the second case the store has not seen every change up to want yet;
// the watcher skips those it gets (the client has them), which is why
// only a watch that resumes, and no list, is served this way. A version
// kube-apiserver has not reached is refused as too large.
func (s *Store) waitForResume(ctx context.Context, want uint64) error {
	s.mu.RLock()
	have := s.rv
	s.mu.RUnlock()
	if have >= want || s.progress.confirm(ctx, want) {
		return nil
	}
	return s.waitForRV(ctx, want)
}

// requestRV parses a request's resourceVersion: "" and "0" mean any
// (legacy) version, anything else must be a version number.
func requestRV(rv string) (uint64, bool, error) {
	if rv == "" || rv == "0" {
		return 0, true, nil
	}
	v, err := parseRV(rv)
	if err != nil {
		return 0, false, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion: %v", err))
	}
	return v, false, nil
}

// waitReadable parses a request's resourceVersion and waits until the store
// can answer it: synced, and at that version or newer.
func (s *Store) waitReadable(ctx context.Context, rv string) (want uint64, legacy bool, err error) {
	if want, legacy, err = requestRV(rv); err != nil {
		return 0, false, err
	}
	if err := s.waitSynced(ctx); err != nil {
		return 0, false, err
	}
	if !legacy {
		if err := s.waitForRV(ctx, want); err != nil {
			return 0, false, err
		}
	}
	return want, legacy, nil
}

// Get returns the LeaderHub called name in namespace.
func (s *Store) Get(ctx context.Context, namespace, name string) (*leaderhub.LeaderHub, error) {
	if err := s.waitSynced(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	e := s.publishedLocked(name)
	s.mu.RUnlock()
	if e == nil || (namespace != "" && namespace != s.opts.Projection.Namespace) {
		return nil, apierrors.NewNotFound(leaderhub.Resource("leaderhubs"), name)
	}
	return s.object(e, e.rv), nil
}

// List returns the LeaderHubs selected by opts in namespace ("" for all),
// sorted by name, at the store's newest resource version. The list is
// always complete: limit is not applied and no continue token is issued.
func (s *Store) List(ctx context.Context, namespace string, opts *metainternalversion.ListOptions) (*leaderhub.LeaderHubList, error) {
	if opts == nil {
		opts = &metainternalversion.ListOptions{}
	}
	if opts.Continue != "" {
		return nil, apierrors.NewBadRequest("continue tokens are not supported: leaderhub always returns complete lists")
	}
	want, legacy, err := s.waitReadable(ctx, opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	p := newPredicate(namespace, opts.LabelSelector, opts.FieldSelector)
	s.mu.RLock()
	if opts.ResourceVersionMatch == metav1.ResourceVersionMatchExact && !legacy && want != s.rv {
		have := s.rv
		s.mu.RUnlock()
		return nil, apierrors.NewResourceExpired(fmt.Sprintf(
			"resourceVersion %d is not available for an exact list: leaderhub keeps only its current state (%d)", want, have))
	}
	entries, rv := s.sortedEntriesLocked(p), s.rv
	s.mu.RUnlock()
	objs := s.matchingObjects(entries, p)
	list := &leaderhub.LeaderHubList{ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatUint(rv, 10)},
		Items: make([]leaderhub.LeaderHub, 0, len(objs))}
	for _, obj := range objs {
		list.Items = append(list.Items, *obj)
	}
	return list, nil
}

// Watch starts a watch of the LeaderHubs selected by opts in namespace.
//
//   - resourceVersion "" or "0": the current state as Added events, then
//     changes (no initial events when sendInitialEvents=false);
//   - resourceVersion N: the changes after N, from the history; 410 Expired
//     when they are no longer all there; a version newer than the store is
//     waited for briefly, then refused as too large;
//   - sendInitialEvents=true: the state at a version not older than the one
//     asked for, then, with allowWatchBookmarks, a bookmark annotated
//     k8s.io/initial-events-end.
func (s *Store) Watch(ctx context.Context, namespace string, opts *metainternalversion.ListOptions) (watch.Interface, error) {
	if opts == nil {
		opts = &metainternalversion.ListOptions{}
	}
	want, legacy, err := requestRV(opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	sendInitial := legacy
	if opts.SendInitialEvents != nil {
		sendInitial = *opts.SendInitialEvents
	}
	resume := !legacy && !sendInitial
	if err := s.waitSynced(ctx); err != nil {
		return nil, err
	}
	switch {
	case resume:
		err = s.waitForResume(ctx, want)
	case !legacy:
		err = s.waitForRV(ctx, want)
	}
	if err != nil {
		return nil, err
	}

	p := newPredicate(namespace, opts.LabelSelector, opts.FieldSelector)
	w := &watcher{
		pred:      p,
		bookmarks: opts.AllowWatchBookmarks,
		result:    make(chan watch.Event, s.opts.WatcherBuffer),
		done:      make(chan struct{}),
		store:     s,
		feeding:   true,
	}
	if resume {
		w.after = want
	}
	w.name, _ = p.singleName()

	var initial []*entry
	var initialRV uint64
	var initialEvents []watch.Event
	s.mu.Lock()
	switch {
	case sendInitial:
		initial, initialRV = s.sortedEntriesLocked(p), s.rv
	case !legacy:
		events, ok := s.history.since(want)
		if !ok {
			oldest := s.history.start
			s.mu.Unlock()
			return nil, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", want, oldest))
		}
		for _, ev := range events {
			if we, ok := p.toWatchEvent(s.newDelivery(ev)); ok {
				initialEvents = append(initialEvents, we)
			}
		}
	}
	if s.closed {
		// A client that lost its watch to the shutdown and came straight
		// back: a watch started now would hold the server's graceful
		// shutdown open until its timeout.
		s.mu.Unlock()
		return nil, errShuttingDown
	}
	s.watchers.add(w)
	s.mu.Unlock()

	// The state at registration, built outside the lock: entries never
	// change, and live events queue up meanwhile.
	if sendInitial {
		for _, obj := range s.matchingObjects(initial, p) {
			initialEvents = append(initialEvents, watch.Event{Type: watch.Added, Object: obj})
		}
		if opts.SendInitialEvents != nil && *opts.SendInitialEvents && opts.AllowWatchBookmarks {
			initialEvents = append(initialEvents, watch.Event{Type: watch.Bookmark, Object: bookmarkObject(initialRV, true)})
		}
	}
	go w.feed(initialEvents)
	return w, nil
}

func bookmarkObject(rv uint64, initialEventsEnd bool) *leaderhub.LeaderHub {
	obj := &leaderhub.LeaderHub{ObjectMeta: metav1.ObjectMeta{ResourceVersion: strconv.FormatUint(rv, 10)}}
	if initialEventsEnd {
		obj.Annotations = map[string]string{metav1.InitialEventsAnnotationKey: "true"}
	}
	return obj
}

// errShuttingDown refuses a watch once the store has ended its watches (at
// shutdown): 503 with Retry-After, which clients retry (on another replica,
// through the Service).
var errShuttingDown = apierrors.NewServiceUnavailable("leaderhub-apiserver is shutting down; retry on another replica")

// EndWatches ends every watch after the events already queued for it, and
// refuses new ones from then on: the server is shutting down, and a watch
// left open would hold its HTTP server's shutdown until the timeout. It
// returns how many it ended. Lists and gets are still served.
//
// A watcher that allows bookmarks first gets one at the newest version the
// store's state is known to have: its own, or kube-apiserver's newest when a
// consistent list of the NodePools, made first (bounded by ctx), shows the
// same projections. It resumes on another replica from there, which that
// replica's history holds even if it started after the watcher's last
// event (a rolling restart), instead of from an older version it would
// answer 410 Gone. EndWatches returns how many watches it ended and the
// version of that last bookmark.
func (s *Store) EndWatches(ctx context.Context) (int, uint64) {
	cs, read := s.readConsistentState(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	n, rv := s.watchers.len(), s.rv
	if read {
		rv = s.versionOfLocked(cs)
	}
	if s.synced {
		s.watchers.bookmarkBeforeEnd(rv, watch.Event{Type: watch.Bookmark, Object: bookmarkObject(rv, false)})
	}
	s.closed = true
	s.watchers.terminateAll()
	return n, rv
}

// Run sends periodic bookmarks, carrying the newest resource version, to the
// watchers that allow them, until ctx ends; then it ends every watch.
func (s *Store) Run(ctx context.Context) {
	ticker := time.NewTicker(s.opts.BookmarkInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			s.EndWatches(ctx) // no list: ctx has ended
			return
		case <-ticker.C:
			s.mu.Lock()
			if s.synced {
				s.watchers.bookmark(s.rv, watch.Event{Type: watch.Bookmark, Object: bookmarkObject(s.rv, false)})
			}
			s.mu.Unlock()
		}
	}
}
