package viewstore

import (
	"sync"

	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"
)

// watcher is one watch of the view. The store puts its events in live
// without ever blocking; a goroutine hands the initial events, then the live
// ones, to the client through result.
type watcher struct {
	pred      *predicate
	name      string // the single name selected, or ""
	bookmarks bool
	initial   []watch.Event
	live      chan watch.Event
	result    chan watch.Event
	done      chan struct{}
	stopOnce  sync.Once
	store     *Store
	// closed is guarded by store.mu: live is closed and the watcher is out
	// of the set.
	closed bool
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

func (w *watcher) run() {
	defer close(w.result)
	for i, ev := range w.initial {
		select {
		case w.result <- ev:
			w.initial[i] = watch.Event{}
		case <-w.done:
			return
		}
	}
	w.initial = nil
	for {
		select {
		case ev, ok := <-w.live:
			if !ok {
				return
			}
			select {
			case w.result <- ev:
			case <-w.done:
				return
			}
		case <-w.done:
			return
		}
	}
}

// watcherSet holds the watchers, indexed by the single name they select so
// an event reaches only the watchers that may want it. All methods need the
// store's write lock.
type watcherSet struct {
	byName map[string]map[*watcher]struct{}
	any    map[*watcher]struct{}
	count  int
}

func newWatcherSet() watcherSet {
	return watcherSet{byName: map[string]map[*watcher]struct{}{}, any: map[*watcher]struct{}{}}
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
	watchers.Set(float64(ws.count))
}

// remove takes w out of the set and closes its live channel, once.
func (ws *watcherSet) remove(w *watcher) {
	if w.closed {
		return
	}
	w.closed = true
	close(w.live)
	if w.name == "" {
		delete(ws.any, w)
	} else if set := ws.byName[w.name]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(ws.byName, w.name)
		}
	}
	ws.count--
	watchers.Set(float64(ws.count))
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

// broadcast queues an event for every watcher it concerns. A watcher whose
// queue is full is dropped: it gets what is queued, then its watch ends and
// its client resumes from the last version it saw.
func (ws *watcherSet) broadcast(d *delivery) {
	deliver := func(w *watcher) {
		we, ok := w.pred.toWatchEvent(d)
		if !ok {
			return
		}
		select {
		case w.live <- we:
		default:
			klog.V(2).InfoS("Dropping a watcher of the view that does not keep up", "selector", w.pred.field.String(), "buffered", cap(w.live))
			droppedWatchers.Inc()
			ws.remove(w)
		}
	}
	for w := range ws.any {
		deliver(w)
	}
	for w := range ws.byName[d.name()] {
		deliver(w)
	}
}

// bookmark queues a bookmark for every watcher that allows them; a watcher
// with a full queue skips it.
func (ws *watcherSet) bookmark(ev watch.Event) {
	ws.each(func(w *watcher) {
		if !w.bookmarks {
			return
		}
		select {
		case w.live <- ev:
		default:
		}
	})
}
