package v1alpha1

import (
	leaderhubv1alpha1 "github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
)

var (
	// localSchemeBuilder is the versioned types' builder: the generated
	// conversions and defaults register themselves on it from their init
	// functions, so its AddToScheme adds types, conversions and defaults.
	localSchemeBuilder = &leaderhubv1alpha1.SchemeBuilder
	// AddToScheme adds the versioned types, their conversions to the
	// internal version and their defaults to a scheme.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func init() {
	localSchemeBuilder.Register(RegisterDefaults)
}
