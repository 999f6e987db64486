package materialize

import "sync"

// rejectionKey is one form of one pool.
type rejectionKey struct {
	pool string
	form Form
}

// rejection is an object that cannot be written: its digest, and why.
type rejection struct {
	digest          digest
	reason, message string
	// retry lets the next sync try the same object again (set at resync).
	retry bool
}

// rejections remembers, per pool and form, the object that could not be
// written and why, so that the cause is reported once and the object is not
// retried with backoff. Only
// pools with a rejected object have an entry.
type rejections struct {
	mu    sync.Mutex
	byKey map[rejectionKey]rejection
}

// record stores r for key and reports whether it is news: a cause (reason
// and message) other than the one already recorded. A pool whose name the
// form cannot hold is reported once, however often its leaders change.
func (rs *rejections) record(key rejectionKey, r rejection) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	prev, ok := rs.byKey[key]
	rs.byKey[key] = r
	return !ok || prev.reason != r.reason || prev.message != r.message
}

// holds reports whether the object with digest d was rejected for key and
// is not due to be tried again.
func (rs *rejections) holds(key rejectionKey, d digest) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r, ok := rs.byKey[key]
	return ok && r.digest == d && !r.retry
}

// clear forgets key's rejection: its object was written, or its pool is gone.
func (rs *rejections) clear(key rejectionKey) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	delete(rs.byKey, key)
}

// retryAll lets every rejected object be tried once more.
func (rs *rejections) retryAll() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for key, r := range rs.byKey {
		r.retry = true
		rs.byKey[key] = r
	}
}

// noticeKey names one cause the controller warns of for a pool: that it
// cannot be published, that it has invalid leader entries, or that one
// form's object belongs to someone else.
type noticeKey struct {
	pool  string
	cause string
}

// Causes of notices.
const (
	causeUnpublishable  = "unpublishable"
	causeInvalidLeaders = "invalid-leaders"
)

// conflictCause is the cause of a form's object that leaderhub does not
// manage.
func conflictCause(form Form) string { return "conflict/" + string(form) }

// notices remembers what the controller last warned of for each pool and
// cause, so that a cause that stays the same is warned of once, not at
// every sync and resync.
type notices struct {
	mu    sync.Mutex
	byKey map[noticeKey]string
}

// report records message for key and reports whether it is news.
func (n *notices) report(key noticeKey, message string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if prev, ok := n.byKey[key]; ok && prev == message {
		return false
	}
	n.byKey[key] = message
	return true
}

// clear forgets key: its cause is gone, so it is warned of again if it
// comes back.
func (n *notices) clear(key noticeKey) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.byKey, key)
}

// forgetPool forgets every cause of a pool that is gone.
func (n *notices) forgetPool(pool string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for key := range n.byKey {
		if key.pool == pool {
			delete(n.byKey, key)
		}
	}
}
