package viewstore

import (
	"maps"
	"slices"

	"github.com/leaderhub/leaderhub/pkg/projection"
)

// State returns what the store makes of the NodePool called pool, and false
// when there is no such NodePool.
func (s *Store) State(pool string) (projection.State, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.pools[pool]
	if e == nil {
		return projection.State{}, false
	}
	return e.state(), true
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
		st := e.state()
		fn(&st)
	}
}
