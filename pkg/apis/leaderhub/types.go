package leaderhub

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LeaderHub is the projection of one NodePool that a YurtHub needs: the pool's
// leader YurtHubs as endpoint subsets, and pool settings as annotations.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type LeaderHub struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	// Subsets holds the leaders, exactly as core/v1 Endpoints holds addresses.
	Subsets []LeaderHubSubset
}

// LeaderHubSubset is a group of addresses sharing a set of ports, with the
// fields of core/v1 EndpointSubset.
type LeaderHubSubset struct {
	Addresses         []LeaderHubAddress
	NotReadyAddresses []LeaderHubAddress
	Ports             []LeaderHubPort
}

// LeaderHubAddress is one leader YurtHub, with the fields of core/v1
// EndpointAddress that a leader can have.
type LeaderHubAddress struct {
	IP       string
	Hostname string
	NodeName *string
}

// LeaderHubPort is a port the leaders serve on, with the fields of core/v1
// EndpointPort.
type LeaderHubPort struct {
	Name        string
	Port        int32
	Protocol    corev1.Protocol
	AppProtocol *string
}

// LeaderHubList is a list of LeaderHubs.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type LeaderHubList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []LeaderHub
}
