package viewstore

import "sort"

// history is a ring of the most recent events, in resource-version order. It
// can serve every event after any version from start on.
type history struct {
	ring  []*event
	first int // index of the oldest event
	n     int
	// start: all events newer than start are in the ring.
	start uint64
}

func newHistory(size int) *history {
	return &history{ring: make([]*event, size)}
}

func (h *history) at(i int) *event { return h.ring[(h.first+i)%len(h.ring)] }

func (h *history) add(ev *event) {
	if h.n == len(h.ring) {
		h.start = h.ring[h.first].rv
		h.ring[h.first] = nil
		h.first = (h.first + 1) % len(h.ring)
		h.n--
	}
	h.ring[(h.first+h.n)%len(h.ring)] = ev
	h.n++
}

// reset forgets every event: from now on the history serves versions from rv.
func (h *history) reset(rv uint64) {
	clear(h.ring)
	h.first, h.n, h.start = 0, 0, rv
}

// since returns the events newer than rv, or false when some of them are gone.
func (h *history) since(rv uint64) ([]*event, bool) {
	if rv < h.start {
		return nil, false
	}
	i := sort.Search(h.n, func(i int) bool { return h.at(i).rv > rv })
	out := make([]*event, 0, h.n-i)
	for ; i < h.n; i++ {
		out = append(out, h.at(i))
	}
	return out, true
}
