package viewstore

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
)

// predicate selects objects by namespace, labels and fields (metadata.name,
// metadata.namespace), as a request asks. Everything it can select on is a
// function of the pool's name (a LeaderHub's labels are its pool name and
// the managed-by value), so a change never moves an object into or out of a
// selection: each event reaches a watcher as it is, or not at all.
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

// delivery is an event on its way to watchers. Its object is built on
// first need, once, and shared by every watcher it reaches.
type delivery struct {
	ev    *event
	build func(e *entry, rv uint64) *leaderhub.LeaderHub
	obj   *leaderhub.LeaderHub
}

func (s *Store) newDelivery(ev *event) *delivery {
	return &delivery{ev: ev, build: s.object}
}

// name is the name of the object the event is about.
func (d *delivery) name() string { return v1alpha1.ObjectName(d.ev.cur.Pool.Name()) }

// object is the object after the event (for Deleted: the last state), at
// the event's resource version.
func (d *delivery) object() *leaderhub.LeaderHub {
	if d.obj == nil {
		d.obj = d.build(d.ev.cur, d.ev.rv)
	}
	return d.obj
}

// toWatchEvent turns a store event into what one watcher should see, if
// anything.
func (p *predicate) toWatchEvent(d *delivery) (watch.Event, bool) {
	if !p.matches(d.object()) {
		return watch.Event{}, false
	}
	return watch.Event{Type: d.ev.typ, Object: d.object()}, true
}
