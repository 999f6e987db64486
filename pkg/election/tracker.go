package election

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"
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
	nodes   feed.NodeReader
	metrics *trackerMetrics

	mu      sync.Mutex
	started bool
	pools   map[string]*record
	// leaderOf maps a Node name to the pools that publish it as a leader,
	// so an event on a Node outside those pools still reaches them.
	leaderOf map[string][]string
	totals   totals
}

var (
	_ feed.Follower = &Tracker{}
	_ feed.Notifier = &Tracker{}
)

// record is what the tracker holds for one pool.
type record struct {
	pool    *Pool
	verdict Verdict
	// open is the pool's election in progress, nil when none.
	open *openElection
	// recheck judges the pool again when the hold on its leaders through
	// an outage ends; nil when none is due.
	recheck clock.Timer
}

type openElection struct {
	since  time.Time
	failed bool
	timer  clock.Timer
}

// totals are the sums the gauges show.
type totals struct {
	states              map[State]int
	stale               int
	leaderlessElectable int
}

// NewTracker builds a Tracker over the Node informer's indexer.
func NewTracker(nodes feed.NodeReader, opts Options) *Tracker {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Policy == (Policy{}) {
		opts.Policy = DefaultPolicy
	}
	t := &Tracker{
		opts: opts, nodes: nodes,
		pools: map[string]*record{}, leaderOf: map[string][]string{},
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
	p := PoolOf(np)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.upsertLocked(p)
}

func (t *Tracker) upsertLocked(p *Pool) {
	rec := t.pools[p.Name]
	if rec == nil {
		rec = &record{}
		t.pools[p.Name] = rec
	}
	prev := rec.pool
	rec.pool = p
	// Most updates are status churn with the same leaders: compared as
	// they are, without building anything.
	leadersSame := prev != nil && slices.Equal(prev.Leaders, p.Leaders)
	if !leadersSame && prev != nil && prev.UID == p.UID && t.started && !sameLeaderSet(prev.Leaders, p.Leaders) {
		t.metrics.leaderChanges.Inc()
	}
	if prev != nil && prev.UID != p.UID {
		// The pool was deleted and created again under its name (seen
		// across a relist): the old pool's election ended with it.
		t.closeLocked(p.Name, rec, false)
	}
	if !leadersSame {
		if prev != nil {
			t.unindexLeadersLocked(prev)
		}
		for _, name := range leaderNames(p.Leaders) {
			t.leaderOf[name] = append(t.leaderOf[name], p.Name)
		}
	}
	if prev != nil && prev.sameInputs(p) && reflect.DeepEqual(prev.Conditions, p.Conditions) {
		return // status churn the election does not read
	}
	t.judgeLocked(p.Name)
	t.notifyLocked(p.Name)
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
	t.unindexLeadersLocked(rec.pool)
	t.setVerdictLocked(rec, Verdict{})
	t.closeLocked(name, rec, false)
	t.scheduleLocked(name, rec, time.Time{})
	delete(t.pools, name)
	t.notifyLocked(name)
}

// Replace records a full NodePool list: pools missing from it are deleted.
func (t *Tracker) Replace(nps []*appsv1beta2.NodePool) {
	pools := make([]*Pool, len(nps))
	for i, np := range nps {
		pools[i] = PoolOf(np)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	keep := make(map[string]bool, len(pools))
	for _, p := range pools {
		keep[p.Name] = true
		t.upsertLocked(p)
	}
	for name := range t.pools {
		if !keep[name] {
			t.deleteLocked(name)
		}
	}
}

func (t *Tracker) unindexLeadersLocked(p *Pool) {
	for _, name := range leaderNames(p.Leaders) {
		pools := slices.DeleteFunc(t.leaderOf[name], func(s string) bool { return s == p.Name })
		if len(pools) == 0 {
			delete(t.leaderOf, name)
		} else {
			t.leaderOf[name] = pools
		}
	}
}

// NodeHandler is the Node informer's event handler: a Node change that
// the election can see (not a heartbeat) judges again the pools it was and
// is in, and those that publish it.
func (t *Tracker) NodeHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj interface{}) { t.nodeChanged(nil, asNode(obj)) },
		UpdateFunc: func(oldObj, newObj interface{}) {
			o, n := asNode(oldObj), asNode(newObj)
			if o != nil && n != nil && feed.SameSlimNode(o, n) {
				return
			}
			t.nodeChanged(o, n)
		},
		DeleteFunc: func(obj interface{}) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			t.nodeChanged(asNode(obj), nil)
		},
	}
}

func asNode(obj interface{}) *corev1.Node {
	n, ok := obj.(*corev1.Node)
	if !ok {
		if obj != nil {
			klog.ErrorS(fmt.Errorf("unexpected %T", obj), "Node cache holds something other than a Node")
		}
		return nil
	}
	return n
}

func (t *Tracker) nodeChanged(nodes ...*corev1.Node) {
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
		if pool := n.Labels[appsv1beta2.LabelNodePool]; pool != "" {
			affected = append(affected, pool)
		}
		affected = append(affected, t.leaderOf[n.Name]...)
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
	j := t.judge(rec.pool, now)
	t.setVerdictLocked(rec, j.Verdict)
	t.scheduleLocked(name, rec, j.holdUntil)
	switch needs := j.NeedsLeaders(); {
	case needs && rec.open == nil:
		t.openLocked(name, rec, j.since(now))
	case !needs && rec.open != nil:
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
	if rec.recheck != nil {
		rec.recheck.Stop()
		rec.recheck = nil
	}
	if until.IsZero() {
		return
	}
	var timer clock.Timer
	// The judgement reads the clock: it runs apart from the timer's
	// callback, which a fake clock calls holding its own lock.
	timer = t.opts.Clock.AfterFunc(until.Sub(t.opts.Clock.Now()), func() { go t.recheck(name, rec, timer) })
	rec.recheck = timer
}

// recheck judges a pool again when its scheduled timer fires, unless the
// pool or its schedule changed since.
func (t *Tracker) recheck(name string, rec *record, timer clock.Timer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pools[name] != rec || rec.recheck != timer {
		return
	}
	rec.recheck = nil
	t.judgeLocked(name)
	t.notifyLocked(name)
}

func (t *Tracker) setVerdictLocked(rec *record, v Verdict) {
	old := rec.verdict
	rec.verdict = v
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
	e := &openElection{since: since}
	rec.open = e
	e.timer = t.opts.Clock.AfterFunc(max(0, t.opts.Deadline-t.opts.Clock.Since(since)), func() { t.deadlinePassed(name, e) })
	klog.V(2).InfoS("Election started", "nodePool", klog.KRef("", name), "since", since, "wanted", rec.verdict.Wanted,
		"valid", rec.verdict.Valid, "stale", rec.verdict.Stale, "eligible", rec.verdict.Eligible)
}

// closeLocked ends a pool's election. done says it ended because the pool
// has what it can have: counted as succeeded (if not already failed), or as
// no_candidates when that is no leader at all; else (the pool deleted or
// re-created, its election turned off, the pool unreachable) it is
// abandoned, counted as neither.
func (t *Tracker) closeLocked(name string, rec *record, done bool) {
	e := rec.open
	if e == nil {
		return
	}
	rec.open = nil
	e.timer.Stop()
	if !done {
		klog.V(2).InfoS("Election abandoned", "nodePool", klog.KRef("", name), "unreachable", rec.verdict.Unreachable)
		return
	}
	took := t.opts.Clock.Since(e.since)
	if rec.verdict.Valid == 0 {
		if !e.failed {
			t.metrics.elections.WithLabelValues(resultNoCandidates).Inc()
		}
		klog.InfoS("Election ended without a leader: no Node of the pool can lead", "nodePool", klog.KRef("", name),
			"took", took, "pastDeadline", e.failed, "wanted", rec.verdict.Wanted)
		return
	}
	t.metrics.duration.Observe(took.Seconds())
	if !e.failed {
		t.metrics.elections.WithLabelValues(resultSucceeded).Inc()
	}
	klog.V(2).InfoS("Election done", "nodePool", klog.KRef("", name), "took", took, "pastDeadline", e.failed,
		"valid", rec.verdict.Valid, "wanted", rec.verdict.Wanted)
}

// deadlinePassed fails an election still open at its deadline.
func (t *Tracker) deadlinePassed(name string, e *openElection) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.pools[name]
	if rec == nil || rec.open != e || e.failed {
		return
	}
	e.failed = true
	t.metrics.elections.WithLabelValues(resultFailed).Inc()
	klog.InfoS("Election failed: the pool has not got its leaders within the deadline", "nodePool", klog.KRef("", name),
		"deadline", t.opts.Deadline, "wanted", rec.verdict.Wanted, "valid", rec.verdict.Valid,
		"stale", rec.verdict.Stale, "eligible", rec.verdict.Eligible)
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
	return rec.verdict, true
}

// Pool returns what the tracker read of a NodePool.
func (t *Tracker) Pool(name string) (*Pool, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.pools[name]
	if rec == nil {
		return nil, false
	}
	return rec.pool, true
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
	obj, ok, err := t.nodes.GetByKey(name)
	if err != nil || !ok {
		return nil, false
	}
	n, isNode := obj.(*corev1.Node)
	if !isNode {
		return nil, false
	}
	node := NodeOf(n)
	return &node, true
}

// Members returns the Nodes labeled into a pool.
func (t *Tracker) Members(pool string) []Node {
	objs, err := t.nodes.ByIndex(feed.IndexByPool, pool)
	if err != nil {
		klog.ErrorS(err, "Reading the Node cache", "nodePool", klog.KRef("", pool))
		return nil
	}
	out := make([]Node, 0, len(objs))
	for _, obj := range objs {
		if n, ok := obj.(*corev1.Node); ok {
			out = append(out, NodeOf(n))
		}
	}
	return out
}

// leaderNames are the distinct Node names of a leader list, sorted.
func leaderNames(leaders []appsv1beta2.Leader) []string {
	names := sets.New[string]()
	for _, l := range leaders {
		names.Insert(l.NodeName)
	}
	return sets.List(names)
}

// sameLeaderSet compares leader lists as sets of node/address pairs.
func sameLeaderSet(a, b []appsv1beta2.Leader) bool {
	return sets.New(a...).Equal(sets.New(b...))
}
