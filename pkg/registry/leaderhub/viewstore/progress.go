package viewstore

import (
	"context"
	"sync"
	"time"

	"k8s.io/klog/v2"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/projection"
)

// How a replica learns that kube-apiserver has moved on when no NodePool
// event says so. The store's version advances only with its reflector's
// events and bookmarks, so a replica that started (listed) after another
// one may be asked to resume from a version it has not reached, and the
// other one's version may be older than the first one's list: across a
// rolling restart with no NodePool change, that would be a 410 Gone and a
// relist for every watcher. kube-apiserver's watch cache asks etcd for
// progress in the same situation; the view asks kube-apiserver with a
// consistent read.

// ConsistentReader reads NodePools from kube-apiserver at its newest
// version, as a list without a resourceVersion does.
type ConsistentReader interface {
	// Revision returns kube-apiserver's newest resource version.
	Revision(ctx context.Context) (uint64, error)
	// List returns every NodePool, and the version of the list.
	List(ctx context.Context) ([]*appsv1beta2.NodePool, uint64, error)
}

// progressTimeout bounds a consistent read made for a watch or at shutdown.
const progressTimeout = time.Second

// SetConsistentReader gives the store a way to confirm versions it has not
// seen yet. Call it before serving; without it, a watch from a version the
// store has not reached waits for the reflector, and the last bookmark
// before shutdown carries the store's own version.
func (s *Store) SetConsistentReader(r ConsistentReader) { s.progress.reader = r }

// progress confirms versions with consistent reads, one at a time, shared
// by every request that waits for one.
type progress struct {
	reader ConsistentReader

	mu sync.Mutex
	// confirmed is the newest version kube-apiserver is known to have
	// reached.
	confirmed uint64
	inflight  *revisionRead
}

type revisionRead struct {
	done chan struct{}
	rv   uint64
	err  error
}

// confirm reports whether kube-apiserver has reached version want. A read
// already under way may have started before want existed, so a caller it
// does not satisfy starts one more.
func (p *progress) confirm(ctx context.Context, want uint64) bool {
	if p.reader == nil {
		return false
	}
	for range 2 {
		p.mu.Lock()
		if p.confirmed >= want {
			p.mu.Unlock()
			return true
		}
		read := p.inflight
		if read == nil {
			read = &revisionRead{done: make(chan struct{})}
			p.inflight = read
			go p.readRevision(read)
		}
		p.mu.Unlock()
		select {
		case <-read.done:
		case <-ctx.Done():
			return false
		}
		if read.err == nil && read.rv >= want {
			return true
		}
	}
	return false
}

func (p *progress) readRevision(read *revisionRead) {
	ctx, cancel := context.WithTimeout(context.Background(), progressTimeout)
	defer cancel()
	read.rv, read.err = p.reader.Revision(ctx)
	if read.err != nil {
		klog.ErrorS(read.err, "Reading kube-apiserver's newest resource version for a watch of the view")
	}
	p.mu.Lock()
	p.inflight = nil
	if read.err == nil {
		p.confirmed = max(p.confirmed, read.rv)
	}
	p.mu.Unlock()
	close(read.done)
}

// consistentState is the store's state as a consistent list shows it: the
// state of every pool at the list's version.
type consistentState struct {
	rv     uint64
	states map[string]projection.State
}

// readConsistentState lists the NodePools and projects them, outside the
// store's lock; false when there is no reader or the list fails.
func (s *Store) readConsistentState(ctx context.Context) (consistentState, bool) {
	if s.progress.reader == nil || ctx.Err() != nil {
		return consistentState{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, progressTimeout)
	defer cancel()
	nps, rv, err := s.progress.reader.List(ctx)
	if err != nil {
		klog.ErrorS(err, "Listing NodePools to confirm the view's version; the view's own version is used")
		return consistentState{}, false
	}
	cs := consistentState{rv: rv, states: make(map[string]projection.State, len(nps))}
	for _, np := range nps {
		cs.states[np.Name] = projection.StateOf(np)
	}
	return cs, true
}

// versionOfLocked returns the newest version at which the store publishes
// exactly what it publishes now: its own version, or cs's when cs is newer
// and publishes the same. Changes between the two that the reflector has
// not delivered yet undo one another then (a change and its reversal); a
// watcher given cs's version misses them, as a relist would, and holds the
// state at that version.
func (s *Store) versionOfLocked(cs consistentState) uint64 {
	if cs.rv <= s.rv {
		return s.rv
	}
	for name, st := range cs.states {
		prev := s.pools[name]
		var prevState *projection.State
		if prev != nil {
			ps := prev.state()
			prevState = &ps
		}
		st = after(st, prevState)
		if prev == nil {
			if st.Published {
				return s.rv
			}
			continue
		}
		if !sameProjection(prevState, &st) {
			return s.rv
		}
	}
	for name, e := range s.pools {
		if _, ok := cs.states[name]; !ok && e.Published {
			return s.rv
		}
	}
	return cs.rv
}
