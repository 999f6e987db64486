package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LeaderHub is the projection of one OpenYurt NodePool that a YurtHub needs:
// the pool's leader YurtHubs as endpoint subsets, and the pool's
// interconnectivity, leader election and pool-scoped metadata settings as
// annotations. It has the JSON shape of core/v1 Endpoints. It is read-only:
// leaderhub computes it from the NodePool named by its openyurt.io/pool-name
// label.
//
// +genclient
// +genclient:onlyVerbs=get,list,watch
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type LeaderHub struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata. The name is leader-hub-<pool>; uid and
	// creationTimestamp are the NodePool's; resourceVersion is the NodePool
	// resourceVersion at which this projection last changed.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Subsets holds the pool's leaders: one subset when the pool has leaders
	// (addresses sorted by node name, the leader-hub port), none otherwise.
	// +optional
	// +listType=atomic
	Subsets []LeaderHubSubset `json:"subsets,omitempty" protobuf:"bytes,2,rep,name=subsets"`
}

// LeaderHubSubset is a group of addresses sharing a set of ports, with the
// JSON shape of core/v1 EndpointSubset.
type LeaderHubSubset struct {
	// Addresses are the leader YurtHubs, sorted by node name.
	// +optional
	// +listType=atomic
	Addresses []LeaderHubAddress `json:"addresses,omitempty" protobuf:"bytes,1,rep,name=addresses"`

	// NotReadyAddresses mirrors core/v1 EndpointSubset; leaderhub leaves it empty.
	// +optional
	// +listType=atomic
	NotReadyAddresses []LeaderHubAddress `json:"notReadyAddresses,omitempty" protobuf:"bytes,2,rep,name=notReadyAddresses"`

	// Ports are the ports the leader YurtHubs serve pool-scoped metadata on.
	// +optional
	// +listType=atomic
	Ports []LeaderHubPort `json:"ports,omitempty" protobuf:"bytes,3,rep,name=ports"`
}

// LeaderHubAddress is one leader YurtHub, with the JSON shape of core/v1
// EndpointAddress.
type LeaderHubAddress struct {
	// IP is the leader YurtHub's address.
	IP string `json:"ip" protobuf:"bytes,1,opt,name=ip"`

	// Hostname mirrors core/v1 EndpointAddress; leaderhub leaves it empty.
	// +optional
	Hostname string `json:"hostname,omitempty" protobuf:"bytes,3,opt,name=hostname"`

	// NodeName is the node the leader YurtHub runs on.
	// +optional
	NodeName *string `json:"nodeName,omitempty" protobuf:"bytes,4,opt,name=nodeName"`
}

// LeaderHubPort is a port of the leader YurtHubs, with the JSON shape of
// core/v1 EndpointPort.
type LeaderHubPort struct {
	// Name of the port; leaderhub names its port "https".
	// +optional
	Name string `json:"name,omitempty" protobuf:"bytes,1,opt,name=name"`

	// Port number.
	Port int32 `json:"port" protobuf:"varint,2,opt,name=port"`

	// Protocol of the port: TCP, UDP or SCTP.
	// +optional
	Protocol corev1.Protocol `json:"protocol,omitempty" protobuf:"bytes,3,opt,name=protocol,casttype=k8s.io/api/core/v1.Protocol"`

	// AppProtocol mirrors core/v1 EndpointPort; leaderhub leaves it empty.
	// +optional
	AppProtocol *string `json:"appProtocol,omitempty" protobuf:"bytes,4,opt,name=appProtocol"`
}

// LeaderHubList is a list of LeaderHubs.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type LeaderHubList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata. resourceVersion is the newest NodePool
	// resourceVersion the server has seen.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Items are the LeaderHubs.
	Items []LeaderHub `json:"items" protobuf:"bytes,2,rep,name=items"`
}
