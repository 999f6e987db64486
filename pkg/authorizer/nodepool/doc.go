// Package nodepool authorizes edge nodes (user system:node:<name>, group
// system:nodes) to read exactly one LeaderHub: leader-hub-<pool> of the pool
// their Node belongs to (label apps.openyurt.io/nodepool). kube-apiserver has
// already let the request through (the shipped RBAC grants system:nodes read
// access to leaderhubs); this authorizer narrows each node to its own pool and
// denies, with a reason, everything else a node asks for. Other users get no
// opinion and fall through to the delegated SubjectAccessReview.
package nodepool
