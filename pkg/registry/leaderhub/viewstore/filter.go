package viewstore

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
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

// toWatchEvent turns a store event into what one watcher should see: a
// change that moves an object into or out of the selection is an Added or a
// Deleted for this watcher.
func (p *predicate) toWatchEvent(ev *event) (watch.Event, bool) {
	cur := p.matches(ev.obj)
	switch ev.typ {
	case watch.Added:
		return watch.Event{Type: watch.Added, Object: ev.obj}, cur
	case watch.Deleted:
		return watch.Event{Type: watch.Deleted, Object: ev.obj}, cur
	}
	prev := ev.prev != nil && p.matches(ev.prev)
	switch {
	case cur && prev:
		return watch.Event{Type: watch.Modified, Object: ev.obj}, true
	case cur:
		return watch.Event{Type: watch.Added, Object: ev.obj}, true
	case prev:
		return watch.Event{Type: watch.Deleted, Object: withRV(ev.prev, ev.rv)}, true
	}
	return watch.Event{}, false
}
