// Package v1alpha1 converts between leaderhub.openyurt.io/v1alpha1, whose
// types are in the module github.com/leaderhub/leaderhub/api, and leaderhub's
// internal version, and defaults the versioned types: the server's half of the
// version, as Kubernetes keeps k8s.io/api's conversions in pkg/apis/core/v1.
// Importing it registers them on the versioned SchemeBuilder.
//
// +k8s:conversion-gen=github.com/leaderhub/leaderhub/pkg/apis/leaderhub
// +k8s:conversion-gen-external-types=github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1
// +k8s:defaulter-gen=TypeMeta
// +k8s:defaulter-gen-input=github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1
package v1alpha1
