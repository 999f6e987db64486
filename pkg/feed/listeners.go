package feed

import "sync"

// Listener is told the name of a pool whose state, as the part that calls
// it sees it, changed. It runs with that part's lock held, so it must be
// quick and must not call back: queueing the name is what it is for.
type Listener func(pool string)

// Notifier is a part that tells listeners which pool changed: the view, the
// election tracker, a materialized form's object cache.
type Notifier interface {
	// AddListener has fn told of every change from now on; remove stops it.
	AddListener(fn Listener) (remove func())
}

// Listeners is a set of listeners; its zero value is empty and ready. A part
// embeds one to be a Notifier and calls Notify for every change.
type Listeners struct {
	mu     sync.RWMutex
	byID   map[int]Listener
	nextID int
}

var _ Notifier = &Listeners{}

// AddListener adds fn to the set.
func (l *Listeners) AddListener(fn Listener) (remove func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byID == nil {
		l.byID = map[int]Listener{}
	}
	id := l.nextID
	l.nextID++
	l.byID[id] = fn
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.byID, id)
	}
}

// Notify tells every listener that pool changed.
func (l *Listeners) Notify(pool string) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, fn := range l.byID {
		fn(pool)
	}
}
