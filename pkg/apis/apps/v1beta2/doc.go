// Package v1beta2 holds OpenYurt's apps.openyurt.io/v1beta2 NodePool, the input
// leaderhub projects from. The Go types mirror upstream OpenYurt field for
// field, with the same JSON names and omitempty choices, so a NodePool read
// from a real OpenYurt cluster decodes and re-encodes unchanged. The CRD in
// artifacts/crds is generated from these types by controller-gen.
//
// +k8s:deepcopy-gen=package
// +groupName=apps.openyurt.io
package v1beta2
