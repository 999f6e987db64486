package election

import (
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/feed"
)

// Options configure a Tracker.
type Options struct {
	// Deadline is how long an election may take and still count as
	// succeeded (--election-deadline).
	Deadline time.Duration
	// Policy is how pools that lose their cloud link are judged
	// (--pool-disruption-threshold, --pool-recovery-grace-period).
	Policy Policy
	// Clock times elections; the real clock when nil.
	Clock clock.WithDelayedExecution
}

// Tracker judges every pool's election. It follows the NodePool watch
// (Upsert, Delete, Replace, after the view: feed.NodePools) and the Node
// cache (NodeHandler, feed.Nodes), and judges nothing until Start says both
// have synced, so a restart never reads a half-filled cache as stale
// leaders. It tells its listeners of every pool it judges again.
type Tracker struct {
	feed.Listeners
	opts    Options
	nodes   NodeCache
	metrics *trackerMetrics

	mu      sync.Mutex
	started bool
	pools   map[string]*record
	records recordSlab
	totals  totals
	// wakeups, the one timer armed for the first and when it fires;
	// waking counts the wake-ups running, for tests on a fake clock.
	wakeups     wakeups
	wakeTimer   clock.Timer
	wakeTimerAt int64
	waking      sync.WaitGroup
}

var (
	_ feed.Follower = &Tracker{}
	_ feed.Notifier = &Tracker{}
)

// record is what the tracker holds for one pool: 96 bytes, besides its
// packed text, and a wakeup of 24 while an election runs to its deadline.
type record struct {
	pool packedPool
	// recheckAt is when the hold on the pool's leaders through an outage
	// ends and the pool is judged again, in Unix nanoseconds; 0 when none
	// is due.
	recheckAt int64
	// openSince is when the open election started, in Unix nanoseconds.
	openSince int64
	verdict   packedVerdict
	// open: an election is in progress; failed: it passed its deadline.
	open, failed bool
}

// recordSlab hands out records from chunks of recordsPerChunk, and takes
// back those of deleted pools for the next. The records of 10,000 pools
// then fill a chunk after another instead of sitting one by one among the
// garbage each NodePool's decoding leaves in their size class, which keeps
// spans in use after a GC.
type recordSlab struct {
	chunk []record // what is left of the chunk being handed out
	free  []*record
}

// recordsPerChunk records of 96 bytes fill a 6 KiB size class exactly.
const recordsPerChunk = 64

func (s *recordSlab) get() *record {
	if n := len(s.free); n > 0 {
		r := s.free[n-1]
		s.free = s.free[:n-1]
		return r
	}
	if len(s.chunk) == 0 {
		s.chunk = make([]record, recordsPerChunk)
	}
	r := &s.chunk[0]
	s.chunk = s.chunk[1:]
	return r
}

func (s *recordSlab) put(r *record) {
	*r = record{}
	s.free = append(s.free, r)
}

// totals are the sums the gauges show.
type totals struct {
	states              map[State]int
	stale               int
	leaderlessElectable int
}

// NewTracker builds a Tracker over the Node cache.
func NewTracker(nodes NodeCache, opts Options) *Tracker {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Policy == (Policy{}) {
		opts.Policy = DefaultPolicy
	}
	t := &Tracker{
		opts: opts, nodes: nodes,
		pools:  map[string]*record{},
		totals: totals{states: map[State]int{}},
	}
	t.metrics = newTrackerMetrics()
	return t
}

// Start judges every pool and, from then on, every change. The caller calls
// it once both the NodePools and the Nodes have synced.
func (t *Tracker) Start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		return
	}
	t.started = true
	for name := range t.pools {
		t.judgeLocked(name)
	}
	klog.InfoS("Election tracker started", "pools", len(t.pools), "ready", t.totals.states[StateReady],
		"degraded", t.totals.states[StateDegraded], "leaderless", t.totals.states[StateLeaderless],
		"unreachable", t.totals.states[StateUnreachable], "staleLeaders", t.totals.stale)
}

// Started reports whether Start was called.
func (t *Tracker) Started() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.started
}

// Upsert records a NodePool as it is now.
func (t *Tracker) Upsert(np *appsv1beta2.NodePool) {
	p := packPool(PoolOf(np))
	t.mu.Lock()
	defer t.mu.Unlock()
	t.upsertLocked(np.Name, &p)
}

func (t *Tracker) upsertLocked(name string, p *packedPool) {
	rec := t.pools[name]
	isNew := rec == nil
	if isNew {
		rec = t.records.get()
		t.pools[name] = rec
	}
	prev := rec.pool
	rec.pool = *p
	// Most updates are status churn with the same leaders: compared as
	// they are packed, without unpacking anything.
	leadersSame := !isNew && prev.leadersText() == p.leadersText()
	if !leadersSame && !isNew && prev.sameUID(p) && t.started &&
		!sameLeaderSet(prev.unpack(name).Leaders, p.unpack(name).Leaders) {
		t.metrics.leaderChanges.Inc()
	}
	if !isNew && !prev.sameUID(p) {
		// The pool was deleted and created again under its name (seen
		// across a relist): the old pool's election ended with it.
		t.closeLocked(name, rec, false)
	}
	if !isNew && prev.same(p) {
		return // status churn the election does not read
	}
	t.judgeLocked(name)
	t.notifyLocked(name)
}

// Delete forgets a NodePool; an election in progress is abandoned, neither
// succeeded nor failed.
func (t *Tracker) Delete(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.deleteLocked(name)
}

func (t *Tracker) deleteLocked(name string) {
	rec := t.pools[name]
	if rec == nil {
		return
	}
	t.setVerdictLocked(rec, Verdict{})
	t.closeLocked(name, rec, false)
	t.scheduleLocked(name, rec, time.Time{})
	delete(t.pools, name)
	t.records.put(rec)
	t.notifyLocked(name)
}

// Replace records a full NodePool list: pools missing from it are deleted.
func (t *Tracker) Replace(nps []*appsv1beta2.NodePool) {
	pools := make([]packedPool, len(nps))
	for i, np := range nps {
		pools[i] = packPool(PoolOf(np))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	keep := make(map[string]bool, len(pools))
	for i := range pools {
		keep[nps[i].Name] = true
		t.upsertLocked(nps[i].Name, &pools[i])
	}
	for name := range t.pools {
		if !keep[name] {
			t.deleteLocked(name)
		}
	}
}

// NodeCache is what the tracker reads of the Node cache (feed.Nodes).
type NodeCache interface {
	Get(name string) (*feed.Node, bool)
	InPool(pool string) []*feed.Node
}

var _ NodeCache = &feed.Nodes{}

// NodeHandler is the Node cache's handler: a Node change that the election
// can see (the cache tells no heartbeat) judges again the pool it was in and
// the pool it is in. No other pool can see it: a published leader counts
// only through a Node in the publishing pool, so one outside it is invalid
// whatever it does, until it moves in, which is a change of its pool.
func (t *Tracker) NodeHandler() feed.NodeHandler {
	return func(old, new *feed.Node) { t.nodeChanged(old, new) }
}

func (t *Tracker) nodeChanged(nodes ...*feed.Node) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.started {
		return
	}
	var affected []string
	for _, n := range nodes {
		if n == nil {
			continue
		}
		if pool := n.Pool(); pool != "" {
			affected = append(affected, pool)
		}
	}
	slices.Sort(affected)
	for _, pool := range slices.Compact(affected) {
		if t.pools[pool] == nil {
			continue
		}
		t.judgeLocked(pool)
		t.notifyLocked(pool)
	}
}

func (t *Tracker) notifyLocked(pool string) {
	if !t.started {
		return
	}
	t.Notify(pool)
}

// judgeLocked judges a pool again and opens or closes its election.
func (t *Tracker) judgeLocked(name string) {
	if !t.started {
		return
	}
	rec := t.pools[name]
	now := t.opts.Clock.Now()
	j := t.judge(rec.pool.unpack(name), now)
	t.setVerdictLocked(rec, j.Verdict)
	t.scheduleLocked(name, rec, j.holdUntil)
	switch needs := j.NeedsLeaders(); {
	case needs && !rec.open:
		t.openLocked(name, rec, j.since(now))
	case !needs && rec.open:
		t.closeLocked(name, rec, j.Enabled && !j.Unreachable)
	}
}

// judgement is a Verdict and the times behind it.
type judgement struct {
	Verdict
	// needSince is when the pool began to need leaders, as the API tells
	// it; zero when the API does not tell (a leader's Node deleted, moved
	// or readdressed).
	needSince time.Time
	// holdUntil is when the hold on a leader kept through an outage ends;
	// zero when none is held, or while the pool is disrupted.
	holdUntil time.Time
}

// since is when an election opened now started: needSince, unless the API
// does not tell or tells a time after now.
func (j *judgement) since(now time.Time) time.Time {
	if j.needSince.IsZero() || j.needSince.After(now) {
		return now
	}
	return j.needSince
}

// judge judges a pool's published leaders against the Node cache.
//
// An election's start comes from the API, so that every replica, and a
// replica restarted meanwhile, times it alike: for a leader whose Node went
// NotReady, that transition (or the end of its hold through an outage); for
// a pool short of leaders, the latest of its spec's last change (creation,
// election turned on, leaderReplicas raised), its leaders' last change and
// the earliest return to Ready of a Node that could fill the gap.
func (t *Tracker) judge(p *Pool, now time.Time) judgement {
	if !p.Enabled {
		return judgement{}
	}
	j := judgement{Verdict: Verdict{Enabled: true, Wanted: p.Wanted}}
	members := t.Members(p.Name)
	outage := t.opts.Policy.Outage(members)
	valid := map[string]bool{}
	var staleSince []time.Time
	staleUnknown := false
	for _, l := range p.Leaders {
		if _, seen := valid[l.NodeName]; seen {
			continue
		}
		n, _ := t.Node(l.NodeName)
		valid[l.NodeName] = p.ValidLeader(l, n)
		j.Published++
		switch {
		case valid[l.NodeName]:
			j.Valid++
		case n != nil && n.Pool == p.Name && len(n.InternalIPs) > 0 && !n.Ready:
			if outage.Holds(n, now) {
				j.Held++
				if !outage.Disrupted && (j.holdUntil.IsZero() || outage.HoldUntil.Before(j.holdUntil)) {
					j.holdUntil = outage.HoldUntil
				}
				continue
			}
			since := n.ReadySince
			if held := outage.HeldSince(n); held.After(since) {
				since = held
			}
			staleSince = append(staleSince, since)
		default:
			staleUnknown = true
		}
	}
	j.Stale = j.Published - j.Valid - j.Held
	j.Unreachable = outage.Disrupted || j.Held > 0
	var firstCandidate time.Time
	for i := range members {
		n := &members[i]
		switch {
		case valid[n.Name]:
			j.Eligible++
		case p.Candidate(n):
			j.Eligible++
			if firstCandidate.IsZero() || n.ReadySince.Before(firstCandidate) {
				firstCandidate = n.ReadySince
			}
		}
	}
	if j.Valid+j.Stale < j.Target() {
		// Short of leaders beyond those that went stale.
		short := p.SpecChangedAt
		for _, at := range []time.Time{p.LastElected.Time, firstCandidate} {
			if at.After(short) {
				short = at
			}
		}
		staleSince = append(staleSince, short)
	}
	if !staleUnknown && len(staleSince) > 0 {
		j.needSince = slices.MinFunc(staleSince, func(a, b time.Time) int { return a.Compare(b) })
	}
	return j
}

// scheduleLocked has the pool judged again at until (when a hold through
// an outage ends); a zero until cancels what was due.
func (t *Tracker) scheduleLocked(name string, rec *record, until time.Time) {
	at := unixNano(until)
	if at == rec.recheckAt {
		return
	}
	if rec.recheckAt = at; at != 0 {
		t.wakeAtLocked(name, at)
	}
}

func (t *Tracker) setVerdictLocked(rec *record, v Verdict) {
	old := rec.verdict.full()
	rec.verdict = packVerdict(v)
	if s := old.State(); s != "" {
		t.totals.states[s]--
	}
	if s := v.State(); s != "" {
		t.totals.states[s]++
	}
	t.totals.stale += v.Stale - old.Stale
	if old.LeaderlessElectable() {
		t.totals.leaderlessElectable--
	}
	if v.LeaderlessElectable() {
		t.totals.leaderlessElectable++
	}
	t.metrics.setTotals(&t.totals)
}

// openLocked opens a pool's election, started at since; one whose deadline
// has already passed (a replica restarted during it) fails at once.
func (t *Tracker) openLocked(name string, rec *record, since time.Time) {
	rec.open, rec.failed, rec.openSince = true, false, since.UnixNano()
	v := rec.verdict.full()
	klog.V(2).InfoS("Election started", "nodePool", klog.KRef("", name), "since", since, "wanted", v.Wanted,
		"valid", v.Valid, "stale", v.Stale, "eligible", v.Eligible)
	deadline := since.Add(t.opts.Deadline)
	if !deadline.After(t.opts.Clock.Now()) {
		t.failLocked(name, rec)
		return
	}
	t.wakeAtLocked(name, deadline.UnixNano())
}

// closeLocked ends a pool's election. done says it ended because the pool
// has what it can have: counted as succeeded (if not already failed), or as
// no_candidates when that is no leader at all; else (the pool deleted or
// re-created, its election turned off, the pool unreachable) it is
// abandoned, counted as neither.
func (t *Tracker) closeLocked(name string, rec *record, done bool) {
	if !rec.open {
		return
	}
	rec.open = false
	v := rec.verdict.full()
	if !done {
		klog.V(2).InfoS("Election abandoned", "nodePool", klog.KRef("", name), "unreachable", v.Unreachable)
		return
	}
	took := t.opts.Clock.Since(time.Unix(0, rec.openSince))
	if v.Valid == 0 {
		if !rec.failed {
			t.metrics.elections.WithLabelValues(resultNoCandidates).Inc()
		}
		klog.InfoS("Election ended without a leader: no Node of the pool can lead", "nodePool", klog.KRef("", name),
			"took", took, "pastDeadline", rec.failed, "wanted", v.Wanted)
		return
	}
	t.metrics.duration.Observe(took.Seconds())
	if !rec.failed {
		t.metrics.elections.WithLabelValues(resultSucceeded).Inc()
	}
	klog.V(2).InfoS("Election done", "nodePool", klog.KRef("", name), "took", took, "pastDeadline", rec.failed,
		"valid", v.Valid, "wanted", v.Wanted)
}

// failLocked fails the pool's open election: it passed its deadline.
func (t *Tracker) failLocked(name string, rec *record) {
	rec.failed = true
	t.metrics.elections.WithLabelValues(resultFailed).Inc()
	v := rec.verdict.full()
	klog.InfoS("Election failed: the pool has not got its leaders within the deadline", "nodePool", klog.KRef("", name),
		"deadline", t.opts.Deadline, "wanted", v.Wanted, "valid", v.Valid, "stale", v.Stale, "eligible", v.Eligible)
}

// Verdict returns a pool's last verdict; false when the pool is unknown or
// the tracker has not started.
func (t *Tracker) Verdict(pool string) (Verdict, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.pools[pool]
	if rec == nil || !t.started {
		return Verdict{}, false
	}
	return rec.verdict.full(), true
}

// Pool returns what the tracker read of a NodePool.
func (t *Tracker) Pool(name string) (*Pool, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.pools[name]
	if rec == nil {
		return nil, false
	}
	return rec.pool.unpack(name), true
}

// PoolNames returns every pool's name.
func (t *Tracker) PoolNames() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	names := make([]string, 0, len(t.pools))
	for name := range t.pools {
		names = append(names, name)
	}
	return names
}

// Node returns a Node from the cache; false when there is none.
func (t *Tracker) Node(name string) (*Node, bool) {
	n, ok := t.nodes.Get(name)
	if !ok {
		return nil, false
	}
	node := NodeOf(n)
	return &node, true
}

// Members returns the Nodes labeled into a pool.
func (t *Tracker) Members(pool string) []Node {
	nodes := t.nodes.InPool(pool)
	out := make([]Node, len(nodes))
	for i, n := range nodes {
		out[i] = NodeOf(n)
	}
	return out
}

// sameLeaderSet compares leader lists as sets of node/address pairs.
func sameLeaderSet(a, b []appsv1beta2.Leader) bool {
	return sets.New(a...).Equal(sets.New(b...))
}
