package v1beta2

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodePoolType says whether a pool's nodes run at the edge or in the cloud.
type NodePoolType string

const (
	// Edge pools hold nodes that reach the control plane over a cloud-edge link.
	Edge NodePoolType = "Edge"
	// Cloud pools hold nodes next to the control plane.
	Cloud NodePoolType = "Cloud"
)

// LeaderElectionStrategy names how the pool's leader YurtHubs are chosen.
type LeaderElectionStrategy string

const (
	// ElectionStrategyMark chooses leaders among nodes that match
	// spec.leaderNodeLabelSelector.
	ElectionStrategyMark LeaderElectionStrategy = "mark"
	// ElectionStrategyRandom chooses leaders among any ready nodes.
	ElectionStrategyRandom LeaderElectionStrategy = "random"
)

// NodePoolConditionType is the type of a NodePool condition.
type NodePoolConditionType string

// LeaderStatus is the condition type that is True once leaders are elected.
const LeaderStatus NodePoolConditionType = "LeaderReady"

// LabelNodePool is the Node label that names the pool a node belongs to.
const LabelNodePool = "apps.openyurt.io/nodepool"

// NodePoolSpec is the desired state of a NodePool.
type NodePoolSpec struct {
	// Type of the pool: Edge or Cloud.
	// +optional
	Type NodePoolType `json:"type,omitempty"`

	// HostNetwork marks a pool whose pods all use the host network, so no
	// CNI components are installed on its nodes.
	// +optional
	HostNetwork bool `json:"hostNetwork,omitempty"`

	// Labels are set on every node of the pool, overwriting same-named keys.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Annotations are set on every node of the pool, overwriting same-named keys.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// Taints are added to every node of the pool.
	// +optional
	Taints []corev1.Taint `json:"taints,omitempty"`

	// InterConnectivity is true when every node of the pool can reach every
	// other over layer 2 or 3, which allows pool-level sharing of list/watch
	// requests. It cannot be changed after creation.
	// +optional
	InterConnectivity bool `json:"interConnectivity,omitempty"`

	// LeaderElectionStrategy is how leader YurtHubs are chosen: "random" or
	// "mark" (among nodes matching LeaderNodeLabelSelector).
	// +optional
	LeaderElectionStrategy string `json:"leaderElectionStrategy,omitempty"`

	// LeaderNodeLabelSelector selects the leader candidates when the strategy
	// is "mark".
	// +optional
	LeaderNodeLabelSelector map[string]string `json:"leaderNodeLabelSelector,omitempty"`

	// EnableLeaderElection turns on leader YurtHub election for the pool; the
	// strategy, selector and replica fields only apply when it is true.
	// +optional
	EnableLeaderElection bool `json:"enableLeaderElection,omitempty"`

	// PoolScopeMetadata lists the resources whose list/watch is shared
	// pool-wide through the leaders.
	// +optional
	PoolScopeMetadata []metav1.GroupVersionResource `json:"poolScopeMetadata,omitempty"`

	// LeaderReplicas is how many leaders the pool elects (1 when unset).
	// +optional
	LeaderReplicas int32 `json:"leaderReplicas,omitempty"`
}

// NodePoolStatus is the observed state of a NodePool.
type NodePoolStatus struct {
	// ReadyNodeNum counts the pool's ready nodes.
	// +optional
	ReadyNodeNum int32 `json:"readyNodeNum"`

	// UnreadyNodeNum counts the pool's nodes that are not ready.
	// +optional
	UnreadyNodeNum int32 `json:"unreadyNodeNum"`

	// Nodes names the pool's nodes.
	// +optional
	Nodes []string `json:"nodes,omitempty"`

	// LeaderEndpoints are the elected leader YurtHubs.
	// +optional
	LeaderEndpoints []Leader `json:"leaderEndpoints,omitempty"`

	// LeaderNum counts the elected leader YurtHubs.
	// +optional
	LeaderNum int32 `json:"leaderNum,omitempty"`

	// LeaderLastElectedTime is when the leaders were last elected.
	// +optional
	LeaderLastElectedTime metav1.Time `json:"leaderLastElectedTime,omitempty"`

	// Conditions are the latest observations of the pool, such as LeaderReady.
	// +optional
	Conditions []NodePoolCondition `json:"conditions,omitempty"`
}

// Leader is one elected leader YurtHub of a pool.
type Leader struct {
	// NodeName is the node the leader YurtHub runs on.
	NodeName string `json:"nodeName"`

	// Address is the IP address the leader YurtHub serves on.
	Address string `json:"address"`
}

// NodePoolCondition is one observation of a NodePool's state.
type NodePoolCondition struct {
	// Type of the condition, such as LeaderReady.
	// +optional
	Type NodePoolConditionType `json:"type,omitempty"`

	// Status is True, False or Unknown.
	// +optional
	Status corev1.ConditionStatus `json:"status,omitempty"`

	// LastTransitionTime is when the status last changed.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`

	// Reason is a one-word, CamelCase cause of the last transition.
	// +optional
	Reason string `json:"reason,omitempty"`

	// Message explains the last transition to a person.
	// +optional
	Message string `json:"message,omitempty"`
}

// NodePool is a group of nodes managed together: OpenYurt's unit of edge
// autonomy and of pool-level sharing through leader YurtHubs.
//
// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=nodepools,shortName=np,categories=yurt
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Type",type="string",JSONPath=".spec.type",description="The type of nodepool"
// +kubebuilder:printcolumn:name="ReadyNodes",type="integer",JSONPath=".status.readyNodeNum",description="The number of ready nodes in the pool"
// +kubebuilder:printcolumn:name="NotReadyNodes",type="integer",JSONPath=".status.unreadyNodeNum"
// +kubebuilder:printcolumn:name="LeaderNodes",type="integer",JSONPath=".status.leaderNum",description="The leader node of the nodepool"
// +kubebuilder:printcolumn:name="LeaderElectionAge",type="date",JSONPath=".status.leaderLastElectedTime",description="The time when the leader yurthub is elected"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type NodePool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   NodePoolSpec   `json:"spec,omitempty"`
	Status NodePoolStatus `json:"status,omitempty"`
}

// NodePoolList is a list of NodePools.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type NodePoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []NodePool `json:"items"`
}
