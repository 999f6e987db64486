package storage

import (
	"context"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
)

// ViewReader is what the REST storage needs from the view store.
type ViewReader interface {
	Get(ctx context.Context, namespace, name string) (*leaderhub.LeaderHub, error)
	List(ctx context.Context, namespace string, opts *metainternalversion.ListOptions) (*leaderhub.LeaderHubList, error)
	Watch(ctx context.Context, namespace string, opts *metainternalversion.ListOptions) (watch.Interface, error)
}

// REST serves leaderhubs read-only.
type REST struct {
	view ViewReader
	tableConvertor
}

var (
	_ rest.Storage                  = &REST{}
	_ rest.Scoper                   = &REST{}
	_ rest.Getter                   = &REST{}
	_ rest.Lister                   = &REST{}
	_ rest.Watcher                  = &REST{}
	_ rest.TableConvertor           = &REST{}
	_ rest.SingularNameProvider     = &REST{}
	_ rest.ShortNamesProvider       = &REST{}
	_ rest.CategoriesProvider       = &REST{}
	_ rest.GroupVersionKindProvider = &REST{}
)

// NewREST returns the storage of leaderhubs over a view
// and the election tracker (for the READY column; nil leaves it empty).
func NewREST(view ViewReader, elections ElectionReader) *REST {
	return &REST{view: view, tableConvertor: tableConvertor{elections: elections}}
}

// New returns an empty LeaderHub.
func (r *REST) New() runtime.Object { return &leaderhub.LeaderHub{} }

// NewList returns an empty LeaderHubList.
func (r *REST) NewList() runtime.Object { return &leaderhub.LeaderHubList{} }

// Destroy releases nothing: the view store outlives the REST storage.
func (r *REST) Destroy() {}

// NamespaceScoped is true: leaderhubs live in leaderhub's namespace.
func (r *REST) NamespaceScoped() bool { return true }

// GetSingularName is "leaderhub".
func (r *REST) GetSingularName() string { return v1alpha1.ResourceSingular }

// ShortNames are the kubectl short names.
func (r *REST) ShortNames() []string { return []string{v1alpha1.ShortName} }

// Categories are the kubectl categories leaderhubs belong to.
func (r *REST) Categories() []string { return []string{v1alpha1.Category} }

// GroupVersionKind is the kind served, whatever the request's version.
func (r *REST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return v1alpha1.SchemeGroupVersion.WithKind("LeaderHub")
}

// Get returns one LeaderHub.
func (r *REST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	return r.view.Get(ctx, genericapirequest.NamespaceValue(ctx), name)
}

// List returns the selected LeaderHubs.
func (r *REST) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	return r.view.List(ctx, genericapirequest.NamespaceValue(ctx), opts)
}

// Watch streams changes of the selected LeaderHubs.
func (r *REST) Watch(ctx context.Context, opts *metainternalversion.ListOptions) (watch.Interface, error) {
	return r.view.Watch(ctx, genericapirequest.NamespaceValue(ctx), opts)
}
