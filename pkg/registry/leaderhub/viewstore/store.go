package viewstore

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
	"github.com/leaderhub/leaderhub/pkg/feed"
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
// what it leaves out, never the objects built from them (80 bytes, besides
// the projection's text: what is left out, rarely anything, is behind one
// pointer). Entries are never modified: a change stores a new one.
type entry struct {
	// Pool and Published are the projection.State's.
	Pool      projection.Pool
	Published bool
	// problems is what the NodePool leaves out, nil when nothing.
	problems *problems
	// rv is the NodePool resource version at which the published projection
	// last changed; 0 while nothing is published.
	rv uint64
}

// problems are the projection.State's account of what it leaves out.
type problems struct {
	invalid       []projection.InvalidLeader
	unpublishable *projection.UnpublishableError
}

func newEntry(st *projection.State) *entry {
	e := &entry{Pool: st.Pool, Published: st.Published}
	if st.Unpublishable != nil || len(st.Invalid) > 0 {
		e.problems = &problems{invalid: st.Invalid, unpublishable: st.Unpublishable}
	}
	return e
}

// state is the entry as a projection.State.
func (e *entry) state() projection.State {
	st := projection.State{Pool: e.Pool, Published: e.Published}
	if e.problems != nil {
		st.Invalid, st.Unpublishable = e.problems.invalid, e.problems.unpublishable
	}
	return st
}

// event is one change of a projection, at the NodePool resource version that
// caused it.
type event struct {
	typ watch.EventType
	cur *entry // for Deleted: the last state
	rv  uint64
}

// Store holds the projections of the NodePools and the watchers of them.
// It tells its listeners (feed.Listeners) the name of every NodePool whose
// projection, what is left out of it, or whose existence changes; they run
// with the store locked.
type Store struct {
	feed.Listeners
	opts Options

	mu sync.RWMutex
	// pools maps NodePool name to what the store makes of it.
	pools map[string]*entry
	// published counts the entries with a projection.
	published int
	// rv is the newest NodePool resource version the store has seen.
	rv       uint64
	history  *history
	watchers watcherSet
	// closed is set by EndWatches: the server is shutting down, and no
	// watch may start that would keep it from stopping.
	closed   bool
	synced   bool
	syncedCh chan struct{}
	// rvChanged is closed, and replaced, whenever rv advances.
	rvChanged chan struct{}
	metrics   *storeMetrics
	// progress confirms versions the store has not reached yet.
	progress progress
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
		syncedCh:  make(chan struct{}),
		rvChanged: make(chan struct{}),
	}
	s.metrics = newStoreMetrics(s)
	s.watchers = newWatcherSet(s.metrics.droppedWatchers)
	return s
}

// HasSynced reports whether the first list of NodePools has been stored.
func (s *Store) HasSynced() bool {
	select {
	case <-s.syncedCh:
		return true
	default:
		return false
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
	obj := e.Pool.LeaderHub(s.opts.Projection)
	obj.ResourceVersion = strconv.FormatUint(rv, 10)
	return obj
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
