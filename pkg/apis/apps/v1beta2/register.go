package v1beta2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of OpenYurt's NodePool.
const GroupName = "apps.openyurt.io"

// SchemeGroupVersion is the group and version of the NodePool leaderhub reads.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1beta2"}

var (
	// SchemeBuilder registers the NodePool types with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the NodePool types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Resource returns a group-qualified resource of this group.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion, &NodePool{}, &NodePoolList{})
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}
