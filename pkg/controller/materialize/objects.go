package materialize

import (
	"context"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/projection"
)

// Form is one kind of object the controller materializes.
type Form string

const (
	FormEndpoints Form = "endpoints"
	FormConfigMap Form = "configmap"
)

// kind is what the controller needs to keep one form in line: how to build
// the desired object, list, watch, read and write the live ones, and which
// part of them beyond metadata leaderhub owns.
type kind interface {
	form() Form
	// example is an empty object of the form, for the reflector.
	example() runtime.Object
	// list and watch read the form's objects in the namespace.
	list(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error)
	watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	// fetch reads the live object from kube-apiserver, managed or not.
	fetch(ctx context.Context, name string) (metav1.Object, error)
	desired(p *projection.Pool) metav1.Object
	// ownedLabels and ownedAnnotations are the keys leaderhub sets on every
	// object of the form, sorted.
	ownedLabels() []string
	ownedAnnotations() []string
	// check says why the form cannot hold desired, as an Event reason and
	// a message; "" when it can.
	check(desired metav1.Object) (reason, message string)
	// payload is what the object carries beyond metadata, all of it owned.
	payload(obj metav1.Object) any
	create(ctx context.Context, obj metav1.Object) error
	// update writes desired's owned fields onto a copy of live.
	update(ctx context.Context, live, desired metav1.Object) error
	delete(ctx context.Context, live metav1.Object) error
}

// mergeOwnedMeta sets leaderhub's labels, annotations and owner references on
// out, keeping the rest.
func mergeOwnedMeta(out, desired metav1.Object) {
	labels := maps.Clone(out.GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, desired.GetLabels())
	out.SetLabels(labels)
	if len(desired.GetAnnotations()) > 0 {
		annotations := maps.Clone(out.GetAnnotations())
		if annotations == nil {
			annotations = map[string]string{}
		}
		maps.Copy(annotations, desired.GetAnnotations())
		out.SetAnnotations(annotations)
	}
	out.SetOwnerReferences(desired.GetOwnerReferences())
}

func managed(obj metav1.Object) bool {
	return obj.GetLabels()[v1alpha1.LabelManagedBy] == v1alpha1.ManagedByValue
}

func uidPrecondition(obj metav1.Object) metav1.DeleteOptions {
	uid := obj.GetUID()
	return metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
}

type endpointsKind struct {
	client kubernetes.Interface
	opts   projection.Options
}

func (k *endpointsKind) form() Form { return FormEndpoints }

func (k *endpointsKind) example() runtime.Object { return &corev1.Endpoints{} }

func (k *endpointsKind) list(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	//nolint:staticcheck // Endpoints are the contract (docs/design.md), though deprecated upstream.
	return k.client.CoreV1().Endpoints(k.opts.Namespace).List(ctx, opts)
}

func (k *endpointsKind) watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	//nolint:staticcheck // Endpoints are the contract (docs/design.md), though deprecated upstream.
	return k.client.CoreV1().Endpoints(k.opts.Namespace).Watch(ctx, opts)
}

func (k *endpointsKind) fetch(ctx context.Context, name string) (metav1.Object, error) {
	//nolint:staticcheck // Endpoints are the contract (docs/design.md), though deprecated upstream.
	return k.client.CoreV1().Endpoints(k.opts.Namespace).Get(ctx, name, metav1.GetOptions{})
}

func (k *endpointsKind) desired(p *projection.Pool) metav1.Object { return p.Endpoints(k.opts) }

func (k *endpointsKind) ownedLabels() []string { return projection.Labels }

func (k *endpointsKind) ownedAnnotations() []string { return projection.Annotations }

// check: the view validated the object's name and labels, which the
// Endpoints form shares.
func (k *endpointsKind) check(metav1.Object) (string, string) { return "", "" }

func (k *endpointsKind) payload(obj metav1.Object) any {
	return obj.(*corev1.Endpoints).Subsets
}

func (k *endpointsKind) create(ctx context.Context, obj metav1.Object) error {
	_, err := k.client.CoreV1().Endpoints(k.opts.Namespace).Create(ctx, obj.(*corev1.Endpoints), metav1.CreateOptions{FieldManager: fieldManager})
	return err
}

func (k *endpointsKind) update(ctx context.Context, live, desired metav1.Object) error {
	out := live.(*corev1.Endpoints).DeepCopy()
	mergeOwnedMeta(out, desired)
	out.Subsets = desired.(*corev1.Endpoints).Subsets
	_, err := k.client.CoreV1().Endpoints(k.opts.Namespace).Update(ctx, out, metav1.UpdateOptions{FieldManager: fieldManager})
	return err
}

func (k *endpointsKind) delete(ctx context.Context, live metav1.Object) error {
	return k.client.CoreV1().Endpoints(k.opts.Namespace).Delete(ctx, live.GetName(), uidPrecondition(live))
}

type configMapKind struct {
	client kubernetes.Interface
	opts   projection.Options
}

func (k *configMapKind) form() Form { return FormConfigMap }

func (k *configMapKind) example() runtime.Object { return &corev1.ConfigMap{} }

func (k *configMapKind) list(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	return k.client.CoreV1().ConfigMaps(k.opts.Namespace).List(ctx, opts)
}

func (k *configMapKind) watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return k.client.CoreV1().ConfigMaps(k.opts.Namespace).Watch(ctx, opts)
}

func (k *configMapKind) fetch(ctx context.Context, name string) (metav1.Object, error) {
	return k.client.CoreV1().ConfigMaps(k.opts.Namespace).Get(ctx, name, metav1.GetOptions{})
}

func (k *configMapKind) desired(p *projection.Pool) metav1.Object { return p.ConfigMap(k.opts) }

func (k *configMapKind) ownedLabels() []string { return projection.ConfigMapLabels }

func (k *configMapKind) ownedAnnotations() []string { return nil }

// check: upstream YurtHub finds the ConfigMap by a label holding its name,
// leader-hub-<pool>, and a label value is at most 63 characters.
func (k *configMapKind) check(desired metav1.Object) (string, string) {
	if errs := validation.IsValidLabelValue(desired.GetName()); len(errs) > 0 {
		return ReasonPoolNameTooLongForConfigMap, fmt.Sprintf("its %s label must hold its name, %d characters long, and %s",
			v1alpha1.LabelConfigMapName, len(desired.GetName()), strings.Join(errs, "; "))
	}
	return "", ""
}

// configMapPayload: leaderhub owns all of data, and binaryData must be empty.
type configMapPayload struct {
	Data          map[string]string
	HasBinaryData bool
}

func (k *configMapKind) payload(obj metav1.Object) any {
	cm := obj.(*corev1.ConfigMap)
	return configMapPayload{Data: cm.Data, HasBinaryData: len(cm.BinaryData) > 0}
}

func (k *configMapKind) create(ctx context.Context, obj metav1.Object) error {
	_, err := k.client.CoreV1().ConfigMaps(k.opts.Namespace).Create(ctx, obj.(*corev1.ConfigMap), metav1.CreateOptions{FieldManager: fieldManager})
	return err
}

func (k *configMapKind) update(ctx context.Context, live, desired metav1.Object) error {
	out := live.(*corev1.ConfigMap).DeepCopy()
	mergeOwnedMeta(out, desired)
	out.Data, out.BinaryData = desired.(*corev1.ConfigMap).Data, nil
	_, err := k.client.CoreV1().ConfigMaps(k.opts.Namespace).Update(ctx, out, metav1.UpdateOptions{FieldManager: fieldManager})
	return err
}

func (k *configMapKind) delete(ctx context.Context, live metav1.Object) error {
	return k.client.CoreV1().ConfigMaps(k.opts.Namespace).Delete(ctx, live.GetName(), uidPrecondition(live))
}
