package leaders

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/client/generated/clientset/versioned"
)

// source is one form of the pool's object, read through one API: how to
// list and watch the pool's objects of the form (selected by name, or by
// label for EndpointSlices), and what Config they make.
type source struct {
	name Source
	// selector narrows lists and watches to the pool's objects.
	selector metav1.ListOptions
	list     func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error)
	watch    func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	// belongs reports whether an object is one of the pool's of this form:
	// its type, and its name (or, for EndpointSlices, its pool label).
	belongs func(obj runtime.Object) bool
	// parse reads the pool's objects (at least one, each one that belongs)
	// into a Config's content.
	parse func(objs []runtime.Object, port int32) Config
	// authoritative sources say the pool is gone when they hold no object;
	// the others may simply not be materialized, so the client looks
	// further down.
	authoritative bool
}

func byName(name string) metav1.ListOptions {
	return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()}
}

// listWatcher is a typed client's List and Watch in one namespace.
type listWatcher[L runtime.Object] interface {
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// reads has s list and watch through c.
func reads[L runtime.Object](c listWatcher[L], s *source) *source {
	s.list = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) }
	s.watch = c.Watch
	return s
}

// newSources builds the sources, in the order asked for.
func newSources(order []Source, view versioned.Interface, kube kubernetes.Interface, namespace, pool string) []*source {
	name := v1alpha1.ObjectName(pool)
	all := map[Source]*source{
		SourceView: reads[*v1alpha1.LeaderHubList](view.LeaderhubV1alpha1().LeaderHubs(namespace), &source{name: SourceView, selector: byName(name), authoritative: true,
			parse: func(objs []runtime.Object, port int32) Config {
				lh := objs[0].(*v1alpha1.LeaderHub)
				return fromSubsets(lh.Annotations, endpointSubsets(lh.Subsets), port)
			}}),
		SourceEndpointSlice: reads[*discoveryv1.EndpointSliceList](kube.DiscoveryV1().EndpointSlices(namespace), &source{name: SourceEndpointSlice,
			selector: metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{
				v1alpha1.LabelPoolName: pool, v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue}).String()},
			parse: func(objs []runtime.Object, port int32) Config {
				c := fromAnnotations(objs[0].(*discoveryv1.EndpointSlice).Annotations)
				for _, obj := range objs {
					es := obj.(*discoveryv1.EndpointSlice)
					p := subsetPort(port, len(es.Ports), func(i int) (string, int32) { return ptr.Deref(es.Ports[i].Name, ""), ptr.Deref(es.Ports[i].Port, 0) })
					for _, e := range es.Endpoints {
						if len(e.Addresses) > 0 && (e.Conditions.Ready == nil || *e.Conditions.Ready) {
							c.Leaders = append(c.Leaders, newLeader(ptr.Deref(e.NodeName, ""), e.Addresses[0], p))
						}
					}
				}
				return c
			}}),
		SourceEndpoints: reads[*corev1.EndpointsList](kube.CoreV1().Endpoints(namespace), &source{name: SourceEndpoints, selector: byName(name),
			parse: func(objs []runtime.Object, port int32) Config {
				ep := objs[0].(*corev1.Endpoints)
				return fromSubsets(ep.Annotations, ep.Subsets, port)
			}}),
		SourceConfigMap: reads[*corev1.ConfigMapList](kube.CoreV1().ConfigMaps(namespace), &source{name: SourceConfigMap, selector: byName(name),
			parse: func(objs []runtime.Object, port int32) Config {
				// The data upstream YurtHub's multiplexer parses: leaders as
				// node/ip pairs, no port (upstream dials 10269).
				data := objs[0].(*corev1.ConfigMap).Data
				c := Config{PoolScopedMetadata: parseMetadata(data[v1alpha1.ConfigMapKeyPoolScopedMetadata]),
					InterConnectivity:    data[v1alpha1.ConfigMapKeyInterConnectivity] == "true",
					EnableLeaderElection: data[v1alpha1.ConfigMapKeyEnableLeaderElection] == "true"}
				for _, pair := range leaderPairs(data[v1alpha1.ConfigMapKeyLeaders]) {
					c.Leaders = append(c.Leaders, newLeader(pair[0], pair[1], port))
				}
				return c
			}}),
	}
	named := func(obj runtime.Object) bool {
		m, err := meta.Accessor(obj)
		return err == nil && m.GetName() == name
	}
	all[SourceView].belongs = func(obj runtime.Object) bool { _, ok := obj.(*v1alpha1.LeaderHub); return ok && named(obj) }
	all[SourceEndpointSlice].belongs = func(obj runtime.Object) bool {
		es, ok := obj.(*discoveryv1.EndpointSlice)
		return ok && es.Labels[v1alpha1.LabelPoolName] == pool
	}
	all[SourceEndpoints].belongs = func(obj runtime.Object) bool { _, ok := obj.(*corev1.Endpoints); return ok && named(obj) }
	all[SourceConfigMap].belongs = func(obj runtime.Object) bool { _, ok := obj.(*corev1.ConfigMap); return ok && named(obj) }
	out := make([]*source, 0, len(order))
	for _, s := range order {
		if src, ok := all[s]; ok {
			out = append(out, src)
		}
	}
	return out
}

// fromAnnotations reads the pool settings the view, Endpoints and
// EndpointSlices carry as annotations.
func fromAnnotations(a map[string]string) Config {
	return Config{
		PoolScopedMetadata:   parseMetadata(a[v1alpha1.AnnotationPoolScopedMetadata]),
		InterConnectivity:    a[v1alpha1.AnnotationInterConnectivity] == "true",
		EnableLeaderElection: a[v1alpha1.AnnotationEnableLeaderElection] == "true",
	}
}

// fromSubsets reads an object of the Endpoints shape (the view's, or the
// Endpoints form): the pool settings from its annotations, and each
// subset's addresses on the subset's https port (port when it names none).
func fromSubsets(annotations map[string]string, subsets []corev1.EndpointSubset, port int32) Config {
	c := fromAnnotations(annotations)
	for _, s := range subsets {
		p := subsetPort(port, len(s.Ports), func(i int) (string, int32) { return s.Ports[i].Name, s.Ports[i].Port })
		for _, a := range s.Addresses {
			c.Leaders = append(c.Leaders, newLeader(ptr.Deref(a.NodeName, ""), a.IP, p))
		}
	}
	return c
}

// endpointSubsets are the view's subsets in core/v1's types, whose shape
// they have: what fromSubsets reads of them.
func endpointSubsets(in []v1alpha1.LeaderHubSubset) []corev1.EndpointSubset {
	out := make([]corev1.EndpointSubset, len(in))
	for i, s := range in {
		for _, a := range s.Addresses {
			out[i].Addresses = append(out[i].Addresses, corev1.EndpointAddress{IP: a.IP, NodeName: a.NodeName})
		}
		for _, p := range s.Ports {
			out[i].Ports = append(out[i].Ports, corev1.EndpointPort{Name: p.Name, Port: p.Port})
		}
	}
	return out
}

// subsetPort is the https port of a subset, or fallback when it has none.
func subsetPort(fallback int32, n int, port func(i int) (string, int32)) int32 {
	for i := range n {
		if name, p := port(i); name == v1alpha1.PortName && p > 0 {
			return p
		}
	}
	return fallback
}

// leaderPairs are the "node/ip" entries of the ConfigMap's leaders value;
// malformed ones are skipped, as upstream YurtHub skips them.
func leaderPairs(v string) [][2]string {
	var out [][2]string
	for pair := range strings.SplitSeq(v, ",") {
		node, ip, ok := strings.Cut(strings.TrimSpace(pair), "/")
		if ok && node != "" && ip != "" && !strings.Contains(ip, "/") {
			out = append(out, [2]string{node, ip})
		}
	}
	return out
}
