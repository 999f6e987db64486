package projection

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
)

// LeaderHub is the pool's object in the view (the internal type, as the
// API server serves it), with the NodePool's uid and creationTimestamp and
// no resourceVersion: the caller sets it.
func (p *Pool) LeaderHub(opts Options) *leaderhub.LeaderHub {
	lh := &leaderhub.LeaderHub{ObjectMeta: p.objectMeta(opts, nil), Subsets: leaderSubsets(p, opts, leaderHubSubset)}
	lh.UID, lh.CreationTimestamp, lh.Annotations = p.UID(), p.CreationTimestamp(), p.annotations()
	return lh
}

// Endpoints is the pool's core/v1 Endpoints: the view's object as an
// Endpoints, without the uid and creationTimestamp kube-apiserver gives it.
func (p *Pool) Endpoints(opts Options) *corev1.Endpoints {
	ep := &corev1.Endpoints{ObjectMeta: p.objectMeta(opts, nil), Subsets: leaderSubsets(p, opts, endpointSubset)}
	ep.Annotations = p.annotations()
	return ep
}

// leaderHubSubset and endpointSubset are the subset of leaders, with the
// leader-hub port, in the view's and in core/v1's types.
func leaderHubSubset(leaders []Leader, port int32) leaderhub.LeaderHubSubset {
	addresses := make([]leaderhub.LeaderHubAddress, len(leaders))
	for i, l := range leaders {
		addresses[i] = leaderhub.LeaderHubAddress{IP: l.IP, NodeName: ptr.To(l.NodeName)}
	}
	return leaderhub.LeaderHubSubset{Addresses: addresses, Ports: []leaderhub.LeaderHubPort{{Name: v1alpha1.PortName, Port: port, Protocol: corev1.ProtocolTCP}}}
}

func endpointSubset(leaders []Leader, port int32) corev1.EndpointSubset {
	addresses := make([]corev1.EndpointAddress, len(leaders))
	for i, l := range leaders {
		addresses[i] = corev1.EndpointAddress{IP: l.IP, NodeName: ptr.To(l.NodeName)}
	}
	return corev1.EndpointSubset{Addresses: addresses, Ports: []corev1.EndpointPort{{Name: v1alpha1.PortName, Port: port, Protocol: corev1.ProtocolTCP}}}
}

// leaderSubsets is the pool's one subset of leaders, built by subset in
// either API's types; none when the pool has no leader.
func leaderSubsets[S any](p *Pool, opts Options, subset func(leaders []Leader, port int32) S) []S {
	n := p.LeaderCount()
	if n == 0 {
		return nil
	}
	leaders := make([]Leader, 0, n)
	for l := range p.Leaders() {
		leaders = append(leaders, l)
	}
	return []S{subset(leaders, opts.LeaderHubPort)}
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
			v1alpha1.ConfigMapKeyLeaders:              leaders,
			v1alpha1.ConfigMapKeyPoolScopedMetadata:   p.PoolScopedMetadata(),
			v1alpha1.ConfigMapKeyInterConnectivity:    strconv.FormatBool(p.interConnectivity),
			v1alpha1.ConfigMapKeyEnableLeaderElection: strconv.FormatBool(p.enableLeaderElection),
		},
	}
}

// EndpointSlice labels beyond Labels: the managing controller, as
// kube-controller-manager's EndpointSlice controller sets its own name, and
// the headless marker kube-proxy excludes from its EndpointSlice informer.
const (
	EndpointSliceManagedBy = "leaderhub.openyurt.io"
	LabelHeadless          = "service.kubernetes.io/headless"
)

// EndpointSliceLabels are the labels leaderhub owns on its EndpointSlices,
// sorted.
var EndpointSliceLabels = []string{v1alpha1.LabelManagedBy, discoveryv1.LabelManagedBy, v1alpha1.LabelPoolName, LabelHeadless}

// EndpointSliceName is the name of the pool's EndpointSlice for one address
// family: leader-hub-<pool>-ipv4 or -ipv6. An EndpointSlice's addressType
// cannot change, so each family has a slice and a name of its own.
func EndpointSliceName(pool string, family discoveryv1.AddressType) string {
	return v1alpha1.ObjectName(pool) + "-" + strings.ToLower(string(family))
}

// EndpointSlice is the pool's discovery.k8s.io/v1 EndpointSlice for one
// address family (IPv4 or IPv6): its leaders of that family, sorted by node
// name, each ready, with its nodeName; the https port; the Endpoints form's
// annotations. false when the pool has no slice of that family: a family
// has one while it has leaders, and the IPv4 slice also stands, empty, for
// a pool without any leader, so that a pool's slices never vanish while the
// pool exists.
func (p *Pool) EndpointSlice(opts Options, family discoveryv1.AddressType) (*discoveryv1.EndpointSlice, bool) {
	var endpoints []discoveryv1.Endpoint
	for l := range p.Leaders() {
		if AddressFamily(l.IP) == family {
			endpoints = append(endpoints, discoveryv1.Endpoint{Addresses: []string{l.IP}, NodeName: ptr.To(l.NodeName),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
		}
	}
	if len(endpoints) == 0 && (family != discoveryv1.AddressTypeIPv4 || p.LeaderCount() > 0) {
		return nil, false
	}
	meta := p.objectMeta(opts, map[string]string{discoveryv1.LabelManagedBy: EndpointSliceManagedBy, LabelHeadless: ""})
	meta.Name = EndpointSliceName(p.Name(), family)
	meta.Annotations = p.annotations()
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  meta,
		AddressType: family,
		Endpoints:   endpoints,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To(v1alpha1.PortName), Port: ptr.To(opts.LeaderHubPort),
			Protocol: ptr.To(corev1.ProtocolTCP)}},
	}, true
}

// AddressFamily is the EndpointSlice address type of a leader's IP.
func AddressFamily(ip string) discoveryv1.AddressType {
	if strings.Contains(ip, ":") {
		return discoveryv1.AddressTypeIPv6
	}
	return discoveryv1.AddressTypeIPv4
}
