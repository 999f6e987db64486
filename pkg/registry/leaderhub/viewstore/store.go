package viewstore

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/projection"
)

// Options tune a Store. Zero values take the defaults below.
type Options struct {
	Projection projection.Options
	// HistorySize is how many events are kept for watches that resume.
	HistorySize int
	// WatcherBuffer is how many events may wait for one watcher before it is
	// dropped as too slow.
	WatcherBuffer int
	// BookmarkInterval is how often watchers that allow bookmarks get one.
	BookmarkInterval time.Duration
	// FreshnessTimeout is how long a request for a resource version newer
	// than the store waits before it is refused as too large.
	FreshnessTimeout time.Duration
	// OnInvalid is told about NodePools that cannot be projected (err set)
	// or have leaders left out. Defaults to a log line.
	OnInvalid func(np *appsv1beta2.NodePool, invalid []projection.InvalidLeader, err error)
}

const (
	DefaultHistorySize      = 4096
	DefaultWatcherBuffer    = 32
	DefaultBookmarkInterval = 30 * time.Second
	DefaultFreshnessTimeout = 3 * time.Second
)

func (o *Options) setDefaults() {
	if o.HistorySize <= 0 {
		o.HistorySize = DefaultHistorySize
	}
	if o.WatcherBuffer <= 0 {
		o.WatcherBuffer = DefaultWatcherBuffer
	}
	if o.BookmarkInterval <= 0 {
		o.BookmarkInterval = DefaultBookmarkInterval
	}
	if o.FreshnessTimeout <= 0 {
		o.FreshnessTimeout = DefaultFreshnessTimeout
	}
	if o.Projection.LeaderHubPort == 0 {
		o.Projection.LeaderHubPort = v1alpha1.DefaultLeaderHubPort
	}
	if o.OnInvalid == nil {
		o.OnInvalid = logInvalid
	}
}

func logInvalid(np *appsv1beta2.NodePool, invalid []projection.InvalidLeader, err error) {
	if err != nil {
		klog.ErrorS(err, "NodePool cannot be projected; it is left out of the view", "nodePool", klog.KObj(np))
	}
	for _, l := range invalid {
		klog.InfoS("Leader left out of the view", "nodePool", klog.KObj(np), "leader", l.String())
	}
}

// entry is what the store keeps of one NodePool: its compact projection and
// what it leaves out, never the objects built from them. Entries are never
// modified: a change stores a new one.
type entry struct {
	projection.State
	// rv is the NodePool resource version at which the published projection
	// last changed; 0 while nothing is published.
	rv uint64
}

// event is one change of a projection, at the NodePool resource version that
// caused it.
type event struct {
	typ watch.EventType
	cur *entry // for Deleted: the last state
	rv  uint64
}

// Store holds the projections of the NodePools and the watchers of them.
type Store struct {
	opts Options

	mu sync.RWMutex
	// pools maps NodePool name to what the store makes of it.
	pools map[string]*entry
	// published counts the entries with a projection.
	published int
	// rv is the newest NodePool resource version the store has seen.
	rv        uint64
	history   *history
	watchers  watcherSet
	listeners map[int]func(pool string)
	nextID    int
	synced    bool
	syncedCh  chan struct{}
	// rvChanged is closed, and replaced, whenever rv advances.
	rvChanged chan struct{}
	metrics   *storeMetrics
}

// The reflector's store contract, plus the optional resource-version hooks.
var (
	_ cache.ReflectorStore         = &Store{}
	_ cache.ResourceVersionUpdater = &Store{}
	_ cache.ReflectorBookmarkStore = &Store{}
)

// New returns an empty store; it is not synced until the first Replace.
func New(opts Options) *Store {
	opts.setDefaults()
	s := &Store{
		opts:      opts,
		pools:     map[string]*entry{},
		history:   newHistory(opts.HistorySize),
		listeners: map[int]func(string){},
		syncedCh:  make(chan struct{}),
		rvChanged: make(chan struct{}),
	}
	s.metrics = newStoreMetrics(s)
	s.watchers = newWatcherSet(s.metrics.droppedWatchers)
	return s
}

// Namespace is where the store's objects live.
func (s *Store) Namespace() string { return s.opts.Projection.Namespace }

// HasSynced reports whether the first list of NodePools has been stored.
func (s *Store) HasSynced() bool {
	select {
	case <-s.syncedCh:
		return true
	default:
		return false
	}
}

// ResourceVersion is the newest NodePool resource version seen.
func (s *Store) ResourceVersion() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rv
}

// State returns what the store makes of the NodePool called pool, and false
// when there is no such NodePool.
func (s *Store) State(pool string) (projection.State, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.pools[pool]
	if e == nil {
		return projection.State{}, false
	}
	return e.State, true
}

// PoolNames returns the names of every NodePool in the store, published or
// not.
func (s *Store) PoolNames() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Collect(maps.Keys(s.pools))
}

// EachState calls fn with the state of every NodePool in the store. The
// store is read-locked meanwhile: fn must be quick and must not call it.
func (s *Store) EachState(fn func(st *projection.State)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.pools {
		fn(&e.State)
	}
}

// AddListener has fn called with a NodePool's name whenever what the store
// makes of it changes: its projection, what is left out of it, or its
// deletion. fn runs with the store locked, so it must be quick and must not
// call the store; queueing the name is what it is for. The returned func
// removes fn.
func (s *Store) AddListener(fn func(pool string)) (remove func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextID
	s.nextID++
	s.listeners[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.listeners, id)
	}
}

func (s *Store) notifyLocked(pool string) {
	for _, fn := range s.listeners {
		fn(pool)
	}
}

func parseRV(rv string) (uint64, error) {
	v, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("resourceVersion %q is not an unsigned integer", rv)
	}
	return v, nil
}

func asNodePool(obj interface{}) (*appsv1beta2.NodePool, uint64, error) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	np, ok := obj.(*appsv1beta2.NodePool)
	if !ok {
		return nil, 0, fmt.Errorf("expected *v1beta2.NodePool, got %T", obj)
	}
	rv, err := parseRV(np.ResourceVersion)
	return np, rv, err
}

// object builds the LeaderHub an entry publishes, at resource version rv.
// Every call returns a new object; callers may share it but not modify it.
func (s *Store) object(e *entry, rv uint64) *leaderhub.LeaderHub {
	versioned := e.Pool.LeaderHub(s.opts.Projection)
	versioned.ResourceVersion = strconv.FormatUint(rv, 10)
	out := &leaderhub.LeaderHub{}
	if err := v1alpha1.Convert_v1alpha1_LeaderHub_To_leaderhub_LeaderHub(versioned, out, nil); err != nil {
		// The conversion is generated field-for-field and cannot fail.
		klog.ErrorS(err, "Converting a projection", "nodePool", e.Pool.Name())
	}
	return out
}

// nextLocked computes the entry for a NodePool's new state: changed reports
// a new projection, reported a change of what is left out of it.
func (s *Store) nextLocked(np *appsv1beta2.NodePool, st projection.State, prev *entry) (next *entry, changed, reported bool) {
	if prev != nil {
		st = st.After(&prev.State)
	}
	next = &entry{State: st}
	changed = st.Published && (prev == nil || !prev.SameProjection(&st))
	if prev != nil && !changed {
		next.rv = prev.rv
	}
	reported = prev == nil || !prev.SameProblems(&st)
	if reported && (st.Unpublishable != nil || len(st.Invalid) > 0) {
		var err error
		if st.Unpublishable != nil {
			err = st.Unpublishable
		}
		s.opts.OnInvalid(np, st.Invalid, err)
		s.metrics.invalidLeaders.Add(float64(len(st.Invalid)))
	}
	return next, changed, reported
}

// Add stores a NodePool's projection (reflector contract).
func (s *Store) Add(obj interface{}) error { return s.Update(obj) }

// Update stores a NodePool's projection and emits an event if it changed.
func (s *Store) Update(obj interface{}) error {
	np, rv, err := asNodePool(obj)
	if err != nil {
		return err
	}
	st := projection.StateOf(np) // outside the lock: it is the costly part

	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.pools[np.Name]
	next, changed, reported := s.nextLocked(np, st, prev)
	switch {
	case changed:
		typ := watch.Modified
		if prev == nil || !prev.Published {
			typ = watch.Added
		}
		s.emitLocked(event{typ: typ, cur: next, rv: rv})
	case reported:
		s.pools[next.Pool.Name()] = next // keyed by the entry's own copy of the name
		s.advanceLocked(rv)
	default:
		s.advanceLocked(rv) // nothing leaderhub publishes changed
		return nil
	}
	s.notifyLocked(np.Name)
	return nil
}

// Delete removes a NodePool's projection; the event carries the delete's
// resource version.
func (s *Store) Delete(obj interface{}) error {
	np, rv, err := asNodePool(obj)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.pools[np.Name]
	switch {
	case prev == nil:
		s.advanceLocked(rv)
		return nil
	case prev.Published:
		s.emitLocked(event{typ: watch.Deleted, cur: prev, rv: rv})
	default:
		delete(s.pools, np.Name)
		s.advanceLocked(rv)
	}
	s.notifyLocked(np.Name)
	return nil
}

// emitLocked applies an event to the state, records it and fans it out.
func (s *Store) emitLocked(ev event) {
	if ev.rv <= s.rv {
		// Only a reflector watch started without a resource version delivers
		// versions out of order. Resuming across it cannot be exact, so
		// history restarts here and watchers reconnect (and relist if behind).
		klog.InfoS("NodePool event older than the view; restarting watch history", "eventResourceVersion", ev.rv, "resourceVersion", s.rv)
		ev.rv = s.rv
		s.history.reset(s.rv)
		s.watchers.terminateAll()
	}
	name := ev.cur.Pool.Name()
	if ev.typ == watch.Deleted {
		delete(s.pools, name)
		s.published--
	} else {
		if ev.typ == watch.Added {
			s.published++
		}
		ev.cur.rv = ev.rv // the entry is not shared yet
		s.pools[name] = ev.cur
	}
	s.metrics.events.WithLabelValues(string(ev.typ)).Inc()
	if !s.synced {
		s.setRVLocked(ev.rv)
		return
	}
	s.history.add(&ev)
	s.watchers.broadcast(s.newDelivery(&ev))
	s.setRVLocked(ev.rv)
}

func (s *Store) advanceLocked(rv uint64) {
	if rv > s.rv {
		s.setRVLocked(rv)
	}
}

func (s *Store) setRVLocked(rv uint64) {
	s.rv = rv
	close(s.rvChanged)
	s.rvChanged = make(chan struct{})
}

// listItem is one NodePool of a full list, projected outside the lock.
type listItem struct {
	np *appsv1beta2.NodePool
	rv uint64
	st projection.State
}

// Replace swaps in the projections of a full NodePool list at resource
// version rv (reflector contract). The first call marks the store synced. A
// later one is a relist, after the reflector's watch broke for too long: the
// store knows the old and the new state of every pool, so it emits the
// difference as ordinary events, keeps its history and ends no watch.
func (s *Store) Replace(list []interface{}, rv string) error {
	listRV, err := parseRV(rv)
	if err != nil {
		return err
	}
	items := make([]listItem, 0, len(list))
	for _, obj := range list {
		np, npRV, err := asNodePool(obj)
		if err != nil {
			return err
		}
		items = append(items, listItem{np: np, rv: npRV, st: projection.StateOf(np)})
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if listRV < s.rv {
		klog.InfoS("NodePool list is older than the view; keeping the newer resource version", "listResourceVersion", listRV, "resourceVersion", s.rv)
		listRV = s.rv
	}
	next, changes := s.diffLocked(items, listRV)
	published := 0
	for _, e := range next {
		if e.Published {
			published++
		}
	}
	s.pools, s.published = next, published
	switch {
	case !s.synced:
		s.history.reset(listRV)
		s.synced = true
		close(s.syncedCh)
		klog.InfoS("View synced", "pools", published, "resourceVersion", listRV)
	case len(changes) > 0 && changes[0].rv <= s.rv:
		// Changes at a version the store has already passed cannot be
		// resumed across exactly: history restarts and watchers reconnect,
		// as after a kube-apiserver watch cache reinitialization.
		klog.InfoS("NodePools relisted with changes at a version the view has passed; watchers of the view will resume or relist",
			"resourceVersion", listRV, "changes", len(changes), "watchers", s.watchers.len())
		s.history.reset(listRV)
		s.watchers.terminateAll()
	default:
		deliveries := make([]*delivery, 0, len(changes))
		for _, ev := range changes {
			s.metrics.events.WithLabelValues(string(ev.typ)).Inc()
			s.history.add(ev)
			deliveries = append(deliveries, s.newDelivery(ev))
		}
		s.watchers.broadcastAll(deliveries)
		klog.InfoS("NodePools relisted; sent the difference to watchers of the view", "resourceVersion", listRV,
			"changes", len(changes), "watchers", s.watchers.len())
	}
	s.setRVLocked(listRV)
	return nil
}

// diffLocked computes the entries of a full list and the events that turn
// the store's state into it, in resource-version order: an added or changed
// projection at its NodePool's version (the list's when that is not newer
// than the store), a deleted pool at the list's version, and a pool
// recreated with a new uid as a delete and an add. Listeners hear of every
// pool whose state changed.
func (s *Store) diffLocked(items []listItem, listRV uint64) (map[string]*entry, []*event) {
	next := make(map[string]*entry, len(items))
	var changes []*event
	for _, it := range items {
		prev := s.pools[it.np.Name]
		e, changed, reported := s.nextLocked(it.np, it.st, prev)
		next[it.np.Name] = e
		if changed || reported {
			s.notifyLocked(it.np.Name)
		}
		if !changed {
			continue
		}
		rv := it.rv
		if rv <= s.rv || rv > listRV {
			rv = listRV
		}
		e.rv = rv // the entry is not shared yet
		switch {
		case prev == nil || !prev.Published:
			changes = append(changes, &event{typ: watch.Added, cur: e, rv: rv})
		case prev.Pool.UID() != e.Pool.UID():
			changes = append(changes, &event{typ: watch.Deleted, cur: prev, rv: rv}, &event{typ: watch.Added, cur: e, rv: rv})
		default:
			changes = append(changes, &event{typ: watch.Modified, cur: e, rv: rv})
		}
	}
	for name, prev := range s.pools {
		if next[name] != nil {
			continue
		}
		s.notifyLocked(name)
		if prev.Published {
			changes = append(changes, &event{typ: watch.Deleted, cur: prev, rv: listRV})
		}
	}
	slices.SortStableFunc(changes, func(a, b *event) int { return cmp.Compare(a.rv, b.rv) })
	return next, changes
}

// Resync is a no-op (reflector contract).
func (s *Store) Resync() error { return nil }

// UpdateResourceVersion advances the store to the reflector's newest version.
func (s *Store) UpdateResourceVersion(rv string) {
	if v, err := parseRV(rv); err == nil {
		s.mu.Lock()
		s.advanceLocked(v)
		s.mu.Unlock()
	}
}

// Bookmark advances the store to a bookmark's version.
func (s *Store) Bookmark(rv string) error {
	s.UpdateResourceVersion(rv)
	return nil
}

// publishedLocked returns the published entry behind an object name.
func (s *Store) publishedLocked(name string) *entry {
	pool, ok := strings.CutPrefix(name, v1alpha1.NamePrefix)
	if !ok {
		return nil
	}
	if e := s.pools[pool]; e != nil && e.Published {
		return e
	}
	return nil
}

// sortedEntriesLocked returns the published entries a request for p may
// select, by name. Their objects are built, and matched against p, outside
// the lock by matchingObjects: entries never change.
func (s *Store) sortedEntriesLocked(p *predicate) []*entry {
	if name, ok := p.singleName(); ok {
		if e := s.publishedLocked(name); e != nil {
			return []*entry{e}
		}
		return nil
	}
	out := make([]*entry, 0, s.published)
	for _, e := range s.pools {
		if e.Published {
			out = append(out, e)
		}
	}
	// One prefix for all: pool-name order is object-name order.
	slices.SortFunc(out, func(a, b *entry) int { return strings.Compare(a.Pool.Name(), b.Pool.Name()) })
	return out
}

// matchingObjects builds the objects of entries and keeps those p matches.
func (s *Store) matchingObjects(entries []*entry, p *predicate) []*leaderhub.LeaderHub {
	out := make([]*leaderhub.LeaderHub, 0, len(entries))
	for _, e := range entries {
		if obj := s.object(e, e.rv); p.matches(obj) {
			out = append(out, obj)
		}
	}
	return out
}
