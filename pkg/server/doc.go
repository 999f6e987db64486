// Package server serves leaderhub-apiserver's API, in the Options ->
// Config -> Complete() -> New() -> Run() chain of k8s.io/apiserver: it
// serves leaderhub.openyurt.io/v1alpha1 read-only from the view store, with
// authentication and authorization delegated to kube-apiserver (and edge
// nodes narrowed to their own pool), OpenAPI v2 and v3, /metrics, a startup
// gate that answers 503 until requests can be judged, and /readyz. All that
// runs besides serving (the feeds that fill the view, the election tracker,
// the controllers and their lease) belongs to pkg/controller/manager, which
// the server builds in New and starts with itself.
package server
