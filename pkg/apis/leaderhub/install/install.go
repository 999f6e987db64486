// Package install registers every version of the leaderhub.openyurt.io API,
// and the internal version, with a scheme.
package install

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
	leaderhubv1alpha1 "github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
)

// Install registers the API group and its versions, preferring v1alpha1.
func Install(scheme *runtime.Scheme) {
	utilruntime.Must(leaderhub.AddToScheme(scheme))
	// The server's package: the types with their conversions and defaults.
	utilruntime.Must(leaderhubv1alpha1.AddToScheme(scheme))
	utilruntime.Must(scheme.SetVersionPriority(v1alpha1.SchemeGroupVersion))
}
