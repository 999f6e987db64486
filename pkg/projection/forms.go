package projection

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
)

// ConfigMap data keys upstream YurtHub's multiplexer reads.
const (
	ConfigMapKeyLeaders              = "leaders"
	ConfigMapKeyPoolScopedMetadata   = "pool-scoped-metadata"
	ConfigMapKeyInterConnectivity    = "interconnectivity"
	ConfigMapKeyEnableLeaderElection = "enable-leader-election"
)

// LeaderHub is the pool's object in the view (the internal type, as the
// API server serves it), with the NodePool's uid and creationTimestamp and
// no resourceVersion: the caller sets it.
func (p *Pool) LeaderHub(opts Options) *leaderhub.LeaderHub {
	lh := &leaderhub.LeaderHub{ObjectMeta: p.objectMeta(opts, nil)}
	lh.UID, lh.CreationTimestamp, lh.Annotations = p.UID(), p.CreationTimestamp(), p.annotations()
	lh.Subsets = leaderSubsets(p,
		func(l Leader) leaderhub.LeaderHubAddress {
			return leaderhub.LeaderHubAddress{IP: l.IP, NodeName: ptr.To(l.NodeName)}
		},
		func(addresses []leaderhub.LeaderHubAddress) leaderhub.LeaderHubSubset {
			return leaderhub.LeaderHubSubset{Addresses: addresses,
				Ports: []leaderhub.LeaderHubPort{{Name: v1alpha1.PortName, Port: opts.LeaderHubPort, Protocol: corev1.ProtocolTCP}}}
		})
	return lh
}

// Endpoints is the pool's core/v1 Endpoints: the view's object as an
// Endpoints, without the uid and creationTimestamp kube-apiserver gives it.
func (p *Pool) Endpoints(opts Options) *corev1.Endpoints {
	ep := &corev1.Endpoints{ObjectMeta: p.objectMeta(opts, nil)}
	ep.Annotations = p.annotations()
	ep.Subsets = leaderSubsets(p,
		func(l Leader) corev1.EndpointAddress {
			return corev1.EndpointAddress{IP: l.IP, NodeName: ptr.To(l.NodeName)}
		},
		func(addresses []corev1.EndpointAddress) corev1.EndpointSubset {
			return corev1.EndpointSubset{Addresses: addresses,
				Ports: []corev1.EndpointPort{{Name: v1alpha1.PortName, Port: opts.LeaderHubPort, Protocol: corev1.ProtocolTCP}}}
		})
	return ep
}

// leaderSubsets is the one subset that holds the pool's leaders, in the
// types of either API (the view's and core/v1 Endpoints' have the same
// shape); none when the pool has no leader.
func leaderSubsets[S, A any](p *Pool, address func(Leader) A, subset func([]A) S) []S {
	if p.LeaderCount() == 0 {
		return nil
	}
	addresses := make([]A, 0, p.LeaderCount())
	for l := range p.Leaders() {
		addresses = append(addresses, address(l))
	}
	return []S{subset(addresses)}
}

// ConfigMap is the form upstream YurtHub's multiplexer reads today: label
// openyurt.io/configmap-name=<name>, and data keys leaders ("node/ip",
// sorted as strings, as upstream's hubleaderconfig controller writes them),
// pool-scoped-metadata, interconnectivity and enable-leader-election.
func (p *Pool) ConfigMap(opts Options) *corev1.ConfigMap {
	leaders := p.LeadersString()
	if p.LeaderCount() > 1 {
		pairs := strings.Split(leaders, ",")
		slices.Sort(pairs)
		leaders = strings.Join(pairs, ",")
	}
	return &corev1.ConfigMap{
		ObjectMeta: p.objectMeta(opts, map[string]string{v1alpha1.LabelConfigMapName: v1alpha1.ObjectName(p.Name())}),
		Data: map[string]string{
			ConfigMapKeyLeaders:              leaders,
			ConfigMapKeyPoolScopedMetadata:   p.PoolScopedMetadata(),
			ConfigMapKeyInterConnectivity:    strconv.FormatBool(p.interConnectivity),
			ConfigMapKeyEnableLeaderElection: strconv.FormatBool(p.enableLeaderElection),
		},
	}
}
