package projection

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
)

// ConfigMap data keys upstream YurtHub's multiplexer reads.
const (
	ConfigMapKeyLeaders              = "leaders"
	ConfigMapKeyPoolScopedMetadata   = "pool-scoped-metadata"
	ConfigMapKeyInterConnectivity    = "interconnectivity"
	ConfigMapKeyEnableLeaderElection = "enable-leader-election"
)

func materializedMeta(lh *v1alpha1.LeaderHub, extraLabels map[string]string) metav1.ObjectMeta {
	labels := make(map[string]string, len(lh.Labels)+len(extraLabels))
	for k, v := range lh.Labels {
		labels[k] = v
	}
	for k, v := range extraLabels {
		labels[k] = v
	}
	return metav1.ObjectMeta{
		Name:            lh.Name,
		Namespace:       lh.Namespace,
		Labels:          labels,
		OwnerReferences: slices.Clone(lh.OwnerReferences),
	}
}

// Endpoints is the core/v1 Endpoints form of a projection: the same name,
// namespace, labels, annotations, subsets and owner reference.
func Endpoints(lh *v1alpha1.LeaderHub) *corev1.Endpoints {
	ep := &corev1.Endpoints{ObjectMeta: materializedMeta(lh, nil)}
	ep.Annotations = make(map[string]string, len(lh.Annotations))
	for k, v := range lh.Annotations {
		ep.Annotations[k] = v
	}
	for _, s := range lh.Subsets {
		subset := corev1.EndpointSubset{}
		for _, a := range s.Addresses {
			subset.Addresses = append(subset.Addresses, corev1.EndpointAddress{IP: a.IP, Hostname: a.Hostname, NodeName: ptr.To(ptr.Deref(a.NodeName, ""))})
		}
		for _, a := range s.NotReadyAddresses {
			subset.NotReadyAddresses = append(subset.NotReadyAddresses, corev1.EndpointAddress{IP: a.IP, Hostname: a.Hostname, NodeName: ptr.To(ptr.Deref(a.NodeName, ""))})
		}
		for _, p := range s.Ports {
			subset.Ports = append(subset.Ports, corev1.EndpointPort{Name: p.Name, Port: p.Port, Protocol: p.Protocol, AppProtocol: p.AppProtocol})
		}
		ep.Subsets = append(ep.Subsets, subset)
	}
	return ep
}

// ConfigMap is the form upstream YurtHub's multiplexer reads today: label
// openyurt.io/configmap-name=<name>, and data keys leaders ("node/ip",
// sorted as strings, as upstream's hubleaderconfig controller writes them),
// pool-scoped-metadata, interconnectivity and enable-leader-election.
func ConfigMap(lh *v1alpha1.LeaderHub) *corev1.ConfigMap {
	leaders := leaderPairs(lh.Subsets)
	slices.Sort(leaders)
	return &corev1.ConfigMap{
		ObjectMeta: materializedMeta(lh, map[string]string{v1alpha1.LabelConfigMapName: lh.Name}),
		Data: map[string]string{
			ConfigMapKeyLeaders:              strings.Join(leaders, ","),
			ConfigMapKeyPoolScopedMetadata:   lh.Annotations[v1alpha1.AnnotationPoolScopedMetadata],
			ConfigMapKeyInterConnectivity:    lh.Annotations[v1alpha1.AnnotationInterConnectivity],
			ConfigMapKeyEnableLeaderElection: lh.Annotations[v1alpha1.AnnotationEnableLeaderElection],
		},
	}
}
