// Package server wires and runs leaderhub-apiserver, in the Options ->
// Config -> Complete() -> New() -> Run() chain of k8s.io/apiserver: it serves
// leaderhub.openyurt.io/v1alpha1 from the view store that a NodePool
// reflector feeds, with authentication and authorization delegated to
// kube-apiserver, OpenAPI v2 and v3, /metrics, and a /readyz that waits for
// the NodePool cache.
package server
