package projection

import (
	"maps"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

// The keys leaderhub owns on the objects it publishes, declared once: every
// form carries Labels and the LeaderHub and Endpoints forms Annotations; the
// ConfigMap carries ConfigMapLabels and no annotation. Sorted.
var (
	Labels          = []string{v1alpha1.LabelManagedBy, v1alpha1.LabelPoolName}
	Annotations     = []string{v1alpha1.AnnotationEnableLeaderElection, v1alpha1.AnnotationInterConnectivity, v1alpha1.AnnotationPoolScopedMetadata}
	ConfigMapLabels = []string{v1alpha1.LabelManagedBy, v1alpha1.LabelConfigMapName, v1alpha1.LabelPoolName}
)

// labels are the contract labels of the pool's objects.
func (p *Pool) labels() map[string]string {
	return map[string]string{
		v1alpha1.LabelPoolName:  p.Name(),
		v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue,
	}
}

// annotations are the contract annotations carrying the pool's settings.
func (p *Pool) annotations() map[string]string {
	return map[string]string{
		v1alpha1.AnnotationInterConnectivity:    strconv.FormatBool(p.interConnectivity),
		v1alpha1.AnnotationEnableLeaderElection: strconv.FormatBool(p.enableLeaderElection),
		v1alpha1.AnnotationPoolScopedMetadata:   p.PoolScopedMetadata(),
	}
}

// ownerReference points at the pool's NodePool as the controller of its
// objects.
func (p *Pool) ownerReference() metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: appsv1beta2.SchemeGroupVersion.String(),
		Kind:       "NodePool",
		Name:       p.Name(),
		UID:        p.UID(),
		Controller: ptr.To(true),
	}
}

// objectMeta is the metadata leaderhub sets on every form of the pool: its
// name, namespace, labels (with extraLabels) and owner reference; the view
// and the Endpoints add the annotations.
func (p *Pool) objectMeta(opts Options, extraLabels map[string]string) metav1.ObjectMeta {
	labels := p.labels()
	maps.Copy(labels, extraLabels)
	return metav1.ObjectMeta{
		Name:            v1alpha1.ObjectName(p.Name()),
		Namespace:       opts.Namespace,
		Labels:          labels,
		OwnerReferences: []metav1.OwnerReference{p.ownerReference()},
	}
}
