package viewstore

import (
	"cmp"
	"slices"

	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/projection"
)

// nextLocked computes the entry for a NodePool's new state: changed reports
// a new projection, reported a change of what is left out of it.
func (s *Store) nextLocked(np *appsv1beta2.NodePool, st projection.State, prev *entry) (next *entry, changed, reported bool) {
	var prevState projection.State
	if prev != nil {
		prevState = prev.state()
		st = after(st, &prevState)
	}
	next = newEntry(&st)
	changed = st.Published && (prev == nil || !sameProjection(&prevState, &st))
	if prev != nil && !changed {
		next.rv = prev.rv
	}
	reported = prev == nil || !sameProblems(&prevState, &st)
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
	s.Notify(np.Name)
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
	s.Notify(np.Name)
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
			s.Notify(it.np.Name)
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
		s.Notify(name)
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
