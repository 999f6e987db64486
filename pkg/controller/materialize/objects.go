package materialize

import (
	"context"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/projection"
)

// Form is one kind of object the controller materializes.
type Form string

const (
	FormEndpoints Form = "endpoints"
	FormConfigMap Form = "configmap"
	// FormEndpointSliceIPv4 and FormEndpointSliceIPv6 are the pool's
	// EndpointSlices, one per address family; --materialize=endpointslice
	// names both.
	FormEndpointSliceIPv4 Form = "endpointslice-ipv4"
	FormEndpointSliceIPv6 Form = "endpointslice-ipv6"
)

// FlagEndpointSlice is how --materialize names the EndpointSlice forms.
const FlagEndpointSlice = "endpointslice"

// ParseForms turns --materialize values into forms: endpoints, configmap,
// endpointslice (both families).
func ParseForms(names []string) ([]Form, error) {
	var forms []Form
	for _, name := range names {
		switch name {
		case string(FormEndpoints), string(FormConfigMap):
			forms = append(forms, Form(name))
		case FlagEndpointSlice:
			forms = append(forms, FormEndpointSliceIPv4, FormEndpointSliceIPv6)
		default:
			return nil, fmt.Errorf("unknown form %q (known: %s, %s, %s)", name, FormEndpoints, FormConfigMap, FlagEndpointSlice)
		}
	}
	return forms, nil
}

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
	// objectName is the name of the pool's object of the form, and poolOf
	// the pool an object name was made for (false: not one of the form's).
	objectName(pool string) string
	poolOf(name string) (string, bool)
	// desired is the pool's object; false when the pool has none of this
	// form (an EndpointSlice of a family it has no leader of).
	desired(p *projection.Pool) (metav1.Object, bool)
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

// objectClient is what a form needs of its typed client-go client
// (core/v1 Endpoints, ConfigMaps, and so on), for objects T listed as L.
type objectClient[T runtime.Object, L runtime.Object] interface {
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// typedKind implements kind for one form of type T from what sets the
// forms apart: how the object is built, checked and compared, and how its
// owned payload is copied.
type typedKind[T interface {
	runtime.Object
	metav1.Object
}, L runtime.Object] struct {
	name Form
	// empty is an empty object of the form, for the reflector.
	empty  T
	client objectClient[T, L]
	opts   projection.Options
	// build makes the desired object of a pool; false when it has none.
	build func(p *projection.Pool, opts projection.Options) (T, bool)
	// suffix follows leader-hub-<pool> in the form's object names.
	suffix              string
	labels, annotations []string
	// canHold says why the form cannot hold an object ("" when it can).
	canHold func(desired T) (reason, message string)
	// ownedPayload is what T carries beyond metadata, all of it owned.
	ownedPayload func(obj T) any
	// copyPayload sets the owned payload of desired on a copy of live.
	copyPayload func(live, desired T) T
}

func (k *typedKind[T, L]) form() Form { return k.name }

func (k *typedKind[T, L]) example() runtime.Object { return k.empty }

func (k *typedKind[T, L]) list(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	return k.client.List(ctx, opts)
}

func (k *typedKind[T, L]) watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return k.client.Watch(ctx, opts)
}

func (k *typedKind[T, L]) fetch(ctx context.Context, name string) (metav1.Object, error) {
	return k.client.Get(ctx, name, metav1.GetOptions{})
}

func (k *typedKind[T, L]) desired(p *projection.Pool) (metav1.Object, bool) {
	obj, ok := k.build(p, k.opts)
	if !ok {
		return nil, false
	}
	return obj, true
}

func (k *typedKind[T, L]) objectName(pool string) string { return v1alpha1.ObjectName(pool) + k.suffix }

func (k *typedKind[T, L]) poolOf(name string) (string, bool) {
	pool, ok := strings.CutPrefix(name, v1alpha1.NamePrefix)
	if !ok {
		return "", false
	}
	pool, ok = strings.CutSuffix(pool, k.suffix)
	return pool, ok && pool != ""
}

// always adapts a builder of an object every pool has.
func always[T any](build func(p *projection.Pool, opts projection.Options) T) func(*projection.Pool, projection.Options) (T, bool) {
	return func(p *projection.Pool, opts projection.Options) (T, bool) { return build(p, opts), true }
}

func (k *typedKind[T, L]) ownedLabels() []string { return k.labels }

func (k *typedKind[T, L]) ownedAnnotations() []string { return k.annotations }

func (k *typedKind[T, L]) check(desired metav1.Object) (string, string) {
	if k.canHold == nil {
		return "", ""
	}
	return k.canHold(desired.(T))
}

func (k *typedKind[T, L]) payload(obj metav1.Object) any { return k.ownedPayload(obj.(T)) }

func (k *typedKind[T, L]) create(ctx context.Context, obj metav1.Object) error {
	_, err := k.client.Create(ctx, obj.(T), metav1.CreateOptions{FieldManager: fieldManager})
	return err
}

func (k *typedKind[T, L]) update(ctx context.Context, live, desired metav1.Object) error {
	out := k.copyPayload(live.(T), desired.(T))
	mergeOwnedMeta(out, desired)
	_, err := k.client.Update(ctx, out, metav1.UpdateOptions{FieldManager: fieldManager})
	return err
}

func (k *typedKind[T, L]) delete(ctx context.Context, live metav1.Object) error {
	return k.client.Delete(ctx, live.GetName(), uidPrecondition(live))
}

// newEndpointsKind is the Endpoints form: leaderhub owns the subsets. The
// view validated the name and labels the form shares with it.
func newEndpointsKind(client kubernetes.Interface, opts projection.Options) kind {
	return &typedKind[*corev1.Endpoints, *corev1.EndpointsList]{
		name: FormEndpoints, empty: &corev1.Endpoints{},
		client: client.CoreV1().Endpoints(opts.Namespace), opts: opts,
		build: always((*projection.Pool).Endpoints), labels: projection.Labels, annotations: projection.Annotations,
		ownedPayload: func(ep *corev1.Endpoints) any { return ep.Subsets },
		copyPayload: func(live, desired *corev1.Endpoints) *corev1.Endpoints {
			out := live.DeepCopy()
			out.Subsets = desired.Subsets
			return out
		},
	}
}

// configMapPayload: leaderhub owns all of data, and binaryData must be empty.
type configMapPayload struct {
	Data          map[string]string
	HasBinaryData bool
}

// newConfigMapKind is the upstream ConfigMap form: leaderhub owns all of
// data. Upstream YurtHub finds it by a label holding its name,
// leader-hub-<pool>, and a label value is at most 63 characters.
func newConfigMapKind(client kubernetes.Interface, opts projection.Options) kind {
	return &typedKind[*corev1.ConfigMap, *corev1.ConfigMapList]{
		name: FormConfigMap, empty: &corev1.ConfigMap{},
		client: client.CoreV1().ConfigMaps(opts.Namespace), opts: opts,
		build: always((*projection.Pool).ConfigMap), labels: projection.ConfigMapLabels,
		canHold: func(desired *corev1.ConfigMap) (string, string) {
			if errs := validation.IsValidLabelValue(desired.Name); len(errs) > 0 {
				return ReasonPoolNameTooLongForConfigMap, fmt.Sprintf("its %s label must hold its name, %d characters long, and %s",
					v1alpha1.LabelConfigMapName, len(desired.Name), strings.Join(errs, "; "))
			}
			return "", ""
		},
		ownedPayload: func(cm *corev1.ConfigMap) any {
			return configMapPayload{Data: cm.Data, HasBinaryData: len(cm.BinaryData) > 0}
		},
		copyPayload: func(live, desired *corev1.ConfigMap) *corev1.ConfigMap {
			out := live.DeepCopy()
			out.Data, out.BinaryData = desired.Data, nil
			return out
		},
	}
}

// endpointSlicePayload: leaderhub owns the address type, endpoints and ports.
type endpointSlicePayload struct {
	AddressType discoveryv1.AddressType
	Endpoints   []discoveryv1.Endpoint
	Ports       []discoveryv1.EndpointPort
}

// newEndpointSliceKind is the EndpointSlice form of one address family,
// named leader-hub-<pool>-ipv4 or -ipv6: leaderhub owns its endpoints and
// ports (its address type is fixed by its name).
func newEndpointSliceKind(client kubernetes.Interface, opts projection.Options, form Form, family discoveryv1.AddressType) kind {
	return &typedKind[*discoveryv1.EndpointSlice, *discoveryv1.EndpointSliceList]{
		name: form, empty: &discoveryv1.EndpointSlice{},
		client: client.DiscoveryV1().EndpointSlices(opts.Namespace), opts: opts,
		suffix: strings.TrimPrefix(projection.EndpointSliceName("", family), v1alpha1.NamePrefix),
		build: func(p *projection.Pool, opts projection.Options) (*discoveryv1.EndpointSlice, bool) {
			return p.EndpointSlice(opts, family)
		},
		labels: projection.EndpointSliceLabels, annotations: projection.Annotations,
		ownedPayload: func(es *discoveryv1.EndpointSlice) any {
			return endpointSlicePayload{AddressType: es.AddressType, Endpoints: es.Endpoints, Ports: es.Ports}
		},
		copyPayload: func(live, desired *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
			out := live.DeepCopy()
			out.Endpoints, out.Ports = desired.Endpoints, desired.Ports
			return out
		},
	}
}
