package election

import (
	"container/heap"
	"time"
)

// wakeup is a time the tracker looks at a pool again: its open election's
// deadline, or the end of a hold on its leaders through an outage. What is
// due is read from the pool's record then, so a wakeup left behind by an
// election that ended, or by a pool deleted or created again, does nothing.
type wakeup struct {
	at   int64 // Unix nanoseconds
	pool string
}

// wakeups is a min-heap of wakeups (container/heap), earliest first: one
// timer serves every pool, armed for the first. A timer per pool would
// cost some 190 bytes each (the runtime's timer, the clock's wrapper, the
// callback's closure) for as long as an election is open.
type wakeups []wakeup

var _ heap.Interface = &wakeups{}

func (w wakeups) Len() int           { return len(w) }
func (w wakeups) Less(i, j int) bool { return w[i].at < w[j].at }
func (w wakeups) Swap(i, j int)      { w[i], w[j] = w[j], w[i] }
func (w *wakeups) Push(x any)        { *w = append(*w, x.(wakeup)) }

func (w *wakeups) Pop() any {
	old := *w
	last := old[len(old)-1]
	old[len(old)-1] = wakeup{}
	*w = old[:len(old)-1]
	return last
}

// wakeAtLocked has the tracker look at pool again at at.
func (t *Tracker) wakeAtLocked(pool string, at int64) {
	heap.Push(&t.wakeups, wakeup{at: at, pool: pool})
	if t.wakeTimer == nil || at < t.wakeTimerAt {
		t.armLocked(t.opts.Clock.Now())
	}
}

// armLocked arms the one timer for the earliest wakeup, if any. The timer's
// callback only starts wake: a fake clock calls it holding its own lock,
// and wake reads the clock.
func (t *Tracker) armLocked(now time.Time) {
	if t.wakeTimer != nil {
		t.wakeTimer.Stop()
		t.wakeTimer = nil
	}
	if len(t.wakeups) == 0 {
		return
	}
	t.wakeTimerAt = t.wakeups[0].at
	t.wakeTimer = t.opts.Clock.AfterFunc(time.Unix(0, t.wakeTimerAt).Sub(now), func() {
		t.waking.Add(1)
		go func() {
			defer t.waking.Done()
			t.wake()
		}()
	})
}

// wake does what is due: fails the open elections past their deadline and
// judges again the pools whose hold ended; then arms the timer for what
// comes next.
func (t *Tracker) wake() {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.opts.Clock.Now()
	for len(t.wakeups) > 0 && t.wakeups[0].at <= now.UnixNano() {
		w := heap.Pop(&t.wakeups).(wakeup)
		rec := t.pools[w.pool]
		if rec == nil {
			continue
		}
		if rec.open && !rec.failed && rec.openSince+int64(t.opts.Deadline) <= now.UnixNano() {
			t.failLocked(w.pool, rec)
		}
		if rec.recheckAt != 0 && rec.recheckAt <= now.UnixNano() {
			rec.recheckAt = 0
			t.judgeLocked(w.pool)
			t.notifyLocked(w.pool)
		}
	}
	t.armLocked(now)
}
