package viewstore

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
)

// predicate selects objects by namespace, labels and fields (metadata.name,
// metadata.namespace), as a request asks.
type predicate struct {
	namespace string // "" for all namespaces
	label     labels.Selector
	field     fields.Selector
}

func newPredicate(namespace string, label labels.Selector, field fields.Selector) *predicate {
	if label == nil {
		label = labels.Everything()
	}
	if field == nil {
		field = fields.Everything()
	}
	return &predicate{namespace: namespace, label: label, field: field}
}

func (p *predicate) matches(obj *leaderhub.LeaderHub) bool {
	if p.namespace != "" && obj.Namespace != p.namespace {
		return false
	}
	if !p.label.Empty() && !p.label.Matches(labels.Set(obj.Labels)) {
		return false
	}
	return p.field.Empty() || p.field.Matches(generic.ObjectMetaFieldsSet(&obj.ObjectMeta, true))
}

// singleName returns the one object name the predicate can match, if any.
func (p *predicate) singleName() (string, bool) {
	return p.field.RequiresExactMatch("metadata.name")
}

// delivery is an event on its way to watchers. Its objects are built on
// first need, once, and shared by every watcher it reaches.
type delivery struct {
	ev        *event
	build     func(e *entry, rv uint64) *leaderhub.LeaderHub
	cur, prev *leaderhub.LeaderHub
}

func (s *Store) newDelivery(ev *event) *delivery {
	return &delivery{ev: ev, build: s.object}
}

// name is the name of the object the event is about.
func (d *delivery) name() string { return v1alpha1.ObjectName(d.ev.cur.Pool.Name) }

// current is the object after the event (for Deleted: the last state), at
// the event's resource version.
func (d *delivery) current() *leaderhub.LeaderHub {
	if d.cur == nil {
		d.cur = d.build(d.ev.cur, d.ev.rv)
	}
	return d.cur
}

// previous is the object before a Modified event, at the event's version.
func (d *delivery) previous() *leaderhub.LeaderHub {
	if d.prev == nil && d.ev.prev != nil && d.ev.prev.Published {
		d.prev = d.build(d.ev.prev, d.ev.rv)
	}
	return d.prev
}

// toWatchEvent turns a store event into what one watcher should see: a
// change that moves an object into or out of the selection is an Added or a
// Deleted for this watcher.
func (p *predicate) toWatchEvent(d *delivery) (watch.Event, bool) {
	cur := p.matches(d.current())
	switch d.ev.typ {
	case watch.Added:
		return watch.Event{Type: watch.Added, Object: d.current()}, cur
	case watch.Deleted:
		return watch.Event{Type: watch.Deleted, Object: d.current()}, cur
	}
	prevObj := d.previous()
	prev := prevObj != nil && p.matches(prevObj)
	switch {
	case cur && prev:
		return watch.Event{Type: watch.Modified, Object: d.current()}, true
	case cur:
		return watch.Event{Type: watch.Added, Object: d.current()}, true
	case prev:
		return watch.Event{Type: watch.Deleted, Object: prevObj}, true
	}
	return watch.Event{}, false
}
