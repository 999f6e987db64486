package viewstore

import (
	"sync"

	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/component-base/metrics"
	"k8s.io/klog/v2"
)

// watcher is one watch of the view. Its client reads result, which holds
// WatcherBuffer events and which the store fills, holding its lock, without
// ever blocking. The events a watch starts with (the state, or the history
// it resumes from) may be many more: a feeder goroutine sends those,
// blocking, while the store queues live events in pending; once it has
// caught up the feeder ends, so an idle watch has no goroutine of its own.
type watcher struct {
	pred      *predicate
	name      string // the single name selected, or ""
	bookmarks bool
	// after is the version a resumed watch started from, which the store
	// may not have reached yet (waitForResume): events and bookmarks at or
	// before it are skipped, as the client has them.
	after    uint64
	result   chan watch.Event
	done     chan struct{} // closed by Stop
	stopOnce sync.Once
	store    *Store

	// Guarded by store.mu.
	//
	// feeding: the feeder runs; live events wait in pending.
	feeding bool
	pending []watch.Event
	// closed: the watcher is out of the set and gets no more events.
	closed bool
	// resultClosed: result is closed (closeResultLocked).
	resultClosed bool
}

var _ watch.Interface = &watcher{}

func (w *watcher) ResultChan() <-chan watch.Event { return w.result }

// Stop ends the watch; safe to call more than once and from any goroutine.
func (w *watcher) Stop() {
	w.stopOnce.Do(func() {
		w.store.mu.Lock()
		w.store.watchers.remove(w)
		w.store.mu.Unlock()
		close(w.done)
	})
}

// feed sends the events the watch starts with, then the live events queued
// meanwhile, until none is left; then it hands result over to the store.
func (w *watcher) feed(events []watch.Event) {
	for w.send(events) {
		w.store.mu.Lock()
		events, w.pending = w.pending, nil
		if len(events) == 0 {
			w.handOverLocked()
			w.store.mu.Unlock()
			return
		}
		w.store.mu.Unlock()
	}
	// Stopped: the client reads no more.
	w.store.mu.Lock()
	w.handOverLocked()
	w.store.mu.Unlock()
}

// send sends events to the client, blocking; false when the watch is
// stopped first.
func (w *watcher) send(events []watch.Event) bool {
	for i, ev := range events {
		select {
		case w.result <- ev:
			events[i] = watch.Event{} // the client has it: let it go
		case <-w.done:
			return false
		}
	}
	return true
}

// handOverLocked ends the feeding: from now on the store sends to result,
// or, if the watcher was dropped or stopped meanwhile, result is closed.
func (w *watcher) handOverLocked() {
	w.feeding, w.pending = false, nil
	w.closeResultLocked()
}

// closeResultLocked closes result once nobody can send to it any more: the
// watcher is out of the set (closed) and no feeder is sending (!feeding).
// remove and handOverLocked, the two ways to reach that, both call it, under
// the store's lock, so result is closed exactly once, by whichever is last.
func (w *watcher) closeResultLocked() {
	if w.closed && !w.feeding && !w.resultClosed {
		w.resultClosed = true
		close(w.result)
	}
}

// watcherSet holds the watchers, indexed by the single name they select so
// an event reaches only the watchers that may want it. All methods need the
// store's write lock.
type watcherSet struct {
	byName map[string]map[*watcher]struct{}
	any    map[*watcher]struct{}
	count  int
	// dropped counts the watchers dropped as too slow.
	dropped *metrics.Counter
}

func newWatcherSet(dropped *metrics.Counter) watcherSet {
	return watcherSet{byName: map[string]map[*watcher]struct{}{}, any: map[*watcher]struct{}{}, dropped: dropped}
}

func (ws *watcherSet) len() int { return ws.count }

func (ws *watcherSet) add(w *watcher) {
	if w.name == "" {
		ws.any[w] = struct{}{}
	} else {
		set := ws.byName[w.name]
		if set == nil {
			set = map[*watcher]struct{}{}
			ws.byName[w.name] = set
		}
		set[w] = struct{}{}
	}
	ws.count++
}

// remove takes w out of the set, once, and closes its result channel unless
// the feeder is still sending to it (it closes it when it hands over).
func (ws *watcherSet) remove(w *watcher) {
	if w.closed {
		return
	}
	w.closed = true
	w.closeResultLocked()
	if w.name == "" {
		delete(ws.any, w)
	} else if set := ws.byName[w.name]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(ws.byName, w.name)
		}
	}
	ws.count--
}

func (ws *watcherSet) each(fn func(*watcher)) {
	for w := range ws.any {
		fn(w)
	}
	for _, set := range ws.byName {
		for w := range set {
			fn(w)
		}
	}
}

// terminateAll ends every watch after the events already queued for it.
func (ws *watcherSet) terminateAll() {
	ws.each(ws.remove)
}

// roomLocked reports whether n more events fit in the watcher's queue:
// pending while it is fed, result after.
func (w *watcher) roomLocked(n int) bool {
	if w.feeding {
		return len(w.pending)+n <= cap(w.result)
	}
	return len(w.result)+n <= cap(w.result)
}

// queueLocked queues an event that roomLocked said fits; only the store
// sends to result once the feeder has handed it over, so it never blocks.
func (w *watcher) queueLocked(ev watch.Event) {
	if w.feeding {
		w.pending = append(w.pending, ev)
		return
	}
	w.result <- ev
}

// drop ends a watcher whose queue is full: it gets what is queued, then its
// watch ends and its client resumes from the last version it saw.
func (ws *watcherSet) drop(w *watcher) {
	klog.V(2).InfoS("Dropping a watcher of the view that does not keep up", "selector", w.pred.field.String(), "buffered", cap(w.result))
	ws.dropped.Inc()
	ws.remove(w)
}

// broadcast queues an event for every watcher it concerns, dropping those
// whose queue is full.
func (ws *watcherSet) broadcast(d *delivery) {
	deliver := func(w *watcher) {
		we, ok := w.eventFor(d)
		if !ok {
			return
		}
		if !w.roomLocked(1) {
			ws.drop(w)
			return
		}
		w.queueLocked(we)
	}
	for w := range ws.any {
		deliver(w)
	}
	for w := range ws.byName[d.name()] {
		deliver(w)
	}
}

// broadcastAll queues several events, in order, as one: a watcher gets
// every one of them that concerns it, or, if they do not all fit in its
// queue, none, and is dropped. Events of one batch may share a resource
// version, so a client that got only some of them could not resume exactly;
// a dropped one resumes from before the batch and gets all of it.
func (ws *watcherSet) broadcastAll(ds []*delivery) {
	if len(ds) == 1 {
		ws.broadcast(ds[0])
		return
	}
	perWatcher := map[*watcher][]watch.Event{}
	collect := func(w *watcher, d *delivery) {
		if we, ok := w.eventFor(d); ok {
			perWatcher[w] = append(perWatcher[w], we)
		}
	}
	for _, d := range ds {
		for w := range ws.any {
			collect(w, d)
		}
		for w := range ws.byName[d.name()] {
			collect(w, d)
		}
	}
	for w, events := range perWatcher {
		if !w.roomLocked(len(events)) {
			ws.drop(w)
			continue
		}
		for _, we := range events {
			w.queueLocked(we)
		}
	}
}

// eventFor turns a store event into what the watcher should see, if
// anything.
func (w *watcher) eventFor(d *delivery) (watch.Event, bool) {
	if d.ev.rv <= w.after {
		return watch.Event{}, false
	}
	return w.pred.toWatchEvent(d)
}

// wantsBookmark reports whether the watcher takes a bookmark at version rv:
// it allows them, and rv is past the version it resumed from.
func (w *watcher) wantsBookmark(rv uint64) bool { return w.bookmarks && rv > w.after }

// bookmarkBeforeEnd queues a bookmark at version rv for every watcher that
// takes it, behind what is queued for it (and while it is still fed its
// initial events, after those), if it has room: the last event before its
// watch ends.
func (ws *watcherSet) bookmarkBeforeEnd(rv uint64, ev watch.Event) {
	ws.each(func(w *watcher) {
		if w.wantsBookmark(rv) && w.roomLocked(1) {
			w.queueLocked(ev)
		}
	})
}

// bookmark queues a bookmark at version rv for every watcher that takes it;
// a watcher with a full queue, or still being fed, skips it.
func (ws *watcherSet) bookmark(rv uint64, ev watch.Event) {
	ws.each(func(w *watcher) {
		if !w.wantsBookmark(rv) || w.feeding {
			return
		}
		select {
		case w.result <- ev:
		default:
		}
	})
}
