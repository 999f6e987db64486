// Package v1alpha1 is leaderhub.openyurt.io/v1alpha1, the wire form of
// LeaderHub: one object per OpenYurt NodePool, named leader-hub-<pool>, with
// the JSON shape of core/v1 Endpoints (metadata and subsets), so a client that
// decodes Endpoints decodes a LeaderHub too. The names in names.go are the
// contract shared by the view, the materialized objects and their readers.
//
// It is a module of its own, github.com/leaderhub/leaderhub/api, on the
// lowest Kubernetes libraries it needs, so that an agent that embeds the edge
// client keeps its own. The conversions to leaderhub's internal version and
// the defaults live with the server, in pkg/apis/leaderhub/v1alpha1.
//
// +k8s:deepcopy-gen=package
// +k8s:openapi-gen=true
// +groupName=leaderhub.openyurt.io
// +k8s:openapi-model-package=io.openyurt.leaderhub.v1alpha1
package v1alpha1
