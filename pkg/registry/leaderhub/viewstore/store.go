package viewstore

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
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

// event is one change of a projection, at the NodePool resource version that
// caused it. Objects in events and in the store are never modified.
type event struct {
	typ  watch.EventType
	obj  *leaderhub.LeaderHub // for Deleted: the last state, at the delete's version
	prev *leaderhub.LeaderHub // for Modified and Deleted: the state before
	rv   uint64
}

// Store holds the projected LeaderHubs and the watchers of them.
type Store struct {
	opts Options

	mu sync.RWMutex
	// objects maps object name (leader-hub-<pool>) to its projection.
	objects map[string]*leaderhub.LeaderHub
	// rv is the newest NodePool resource version the store has seen.
	rv       uint64
	history  *history
	watchers watcherSet
	synced   bool
	syncedCh chan struct{}
	// rvChanged is closed, and replaced, whenever rv advances.
	rvChanged chan struct{}
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
	return &Store{
		opts:      opts,
		objects:   map[string]*leaderhub.LeaderHub{},
		history:   newHistory(opts.HistorySize),
		watchers:  newWatcherSet(),
		syncedCh:  make(chan struct{}),
		rvChanged: make(chan struct{}),
	}
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

func parseRV(rv string) (uint64, error) {
	v, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("resourceVersion %q is not an unsigned integer", rv)
	}
	return v, nil
}

func asNodePool(obj interface{}) (*appsv1beta2.NodePool, error) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	np, ok := obj.(*appsv1beta2.NodePool)
	if !ok {
		return nil, fmt.Errorf("expected *v1beta2.NodePool, got %T", obj)
	}
	return np, nil
}

// project computes the stored form of a NodePool's projection, or nil.
func (s *Store) project(np *appsv1beta2.NodePool) *leaderhub.LeaderHub {
	versioned, invalid, err := projection.LeaderHub(np, s.opts.Projection)
	if err != nil || len(invalid) > 0 {
		s.opts.OnInvalid(np, invalid, err)
		invalidLeaders.Add(float64(len(invalid)))
	}
	if err != nil {
		return nil
	}
	out := &leaderhub.LeaderHub{}
	if err := v1alpha1.Convert_v1alpha1_LeaderHub_To_leaderhub_LeaderHub(versioned, out, nil); err != nil {
		klog.ErrorS(err, "Converting projection", "nodePool", klog.KObj(np))
		return nil
	}
	return out
}

// sameProjection compares everything but the resourceVersion.
func sameProjection(a, b *leaderhub.LeaderHub) bool {
	am, bm := a.ObjectMeta, b.ObjectMeta
	am.ResourceVersion, bm.ResourceVersion = "", ""
	return apiequality.Semantic.DeepEqual(am, bm) && apiequality.Semantic.DeepEqual(a.Subsets, b.Subsets)
}

// withRV returns a copy of obj that shares its maps and slices (objects are
// never modified) with another resourceVersion.
func withRV(obj *leaderhub.LeaderHub, rv uint64) *leaderhub.LeaderHub {
	out := *obj
	out.ResourceVersion = strconv.FormatUint(rv, 10)
	return &out
}

// Add stores a NodePool's projection (reflector contract).
func (s *Store) Add(obj interface{}) error { return s.Update(obj) }

// Update stores a NodePool's projection and emits an event if it changed.
func (s *Store) Update(obj interface{}) error {
	np, err := asNodePool(obj)
	if err != nil {
		return err
	}
	rv, err := parseRV(np.ResourceVersion)
	if err != nil {
		return err
	}
	projected := s.project(np)

	s.mu.Lock()
	defer s.mu.Unlock()
	if projected == nil {
		s.advanceLocked(rv)
		return nil
	}
	old := s.objects[projected.Name]
	if old != nil && sameProjection(old, projected) {
		s.advanceLocked(rv)
		return nil
	}
	typ := watch.Modified
	if old == nil {
		typ = watch.Added
	}
	s.emitLocked(event{typ: typ, obj: projected, prev: old, rv: rv})
	return nil
}

// Delete removes a NodePool's projection; the event carries the delete's
// resource version.
func (s *Store) Delete(obj interface{}) error {
	np, err := asNodePool(obj)
	if err != nil {
		return err
	}
	rv, err := parseRV(np.ResourceVersion)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.objects[v1alpha1.ObjectName(np.Name)]
	if old == nil {
		s.advanceLocked(rv)
		return nil
	}
	s.emitLocked(event{typ: watch.Deleted, obj: old, prev: old, rv: rv})
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
	ev.obj = withRV(ev.obj, ev.rv)
	if ev.typ == watch.Deleted {
		delete(s.objects, ev.obj.Name)
	} else {
		s.objects[ev.obj.Name] = ev.obj
	}
	eventsTotal.WithLabelValues(string(ev.typ)).Inc()
	pools.Set(float64(len(s.objects)))
	if !s.synced {
		s.setRVLocked(ev.rv)
		return
	}
	s.history.add(&ev)
	s.watchers.broadcast(&ev)
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

// Replace swaps in the projections of a full NodePool list at resource
// version rv (reflector contract). The first call marks the store synced; a
// later one is a relist: history restarts at rv and every watcher is ended,
// so clients resume from rv or relist, exactly as after a kube-apiserver
// watch cache reinitialization.
func (s *Store) Replace(list []interface{}, rv string) error {
	listRV, err := parseRV(rv)
	if err != nil {
		return err
	}
	projected := make(map[string]*leaderhub.LeaderHub, len(list))
	for _, obj := range list {
		np, err := asNodePool(obj)
		if err != nil {
			return err
		}
		npRV, err := parseRV(np.ResourceVersion)
		if err != nil {
			return err
		}
		if lh := s.project(np); lh != nil {
			projected[lh.Name] = withRV(lh, npRV)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	changed := 0
	for name, lh := range projected {
		if old := s.objects[name]; old != nil && sameProjection(old, lh) {
			projected[name] = old // keep the version at which it last changed
		} else {
			changed++
		}
	}
	for name := range s.objects {
		if projected[name] == nil {
			changed++ // removed pool
		}
	}
	s.objects = projected
	pools.Set(float64(len(projected)))
	if listRV < s.rv {
		klog.InfoS("NodePool list is older than the view; keeping the newer resource version", "listResourceVersion", listRV, "resourceVersion", s.rv)
		listRV = s.rv
	}
	s.history.reset(listRV)
	if s.synced {
		klog.InfoS("NodePools relisted; watchers of the view will resume or relist", "resourceVersion", listRV, "changedPools", changed, "watchers", s.watchers.len())
		s.watchers.terminateAll()
	} else {
		s.synced = true
		close(s.syncedCh)
		klog.InfoS("View synced", "pools", len(projected), "resourceVersion", listRV)
	}
	s.setRVLocked(listRV)
	return nil
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

// sortedObjectsLocked returns the stored objects matching p, by name.
func (s *Store) sortedObjectsLocked(p *predicate) []*leaderhub.LeaderHub {
	if name, ok := p.singleName(); ok {
		if obj := s.objects[name]; obj != nil && p.matches(obj) {
			return []*leaderhub.LeaderHub{obj}
		}
		return nil
	}
	out := make([]*leaderhub.LeaderHub, 0, len(s.objects))
	for _, obj := range s.objects {
		if p.matches(obj) {
			out = append(out, obj)
		}
	}
	slices.SortFunc(out, func(a, b *leaderhub.LeaderHub) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}
