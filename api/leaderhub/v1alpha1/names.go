package v1alpha1

// The names below are the contract between leaderhub and its readers (see
// docs/design.md): the view, the materialized Endpoints and ConfigMap, and every
// YurtHub that reads them use exactly these strings.
const (
	// ResourcePlural is the plural resource name of LeaderHub.
	ResourcePlural = "leaderhubs"
	// ResourceSingular is the singular resource name of LeaderHub.
	ResourceSingular = "leaderhub"
	// ShortName is the kubectl short name of LeaderHub.
	ShortName = "lh"
	// Category is the kubectl category LeaderHub belongs to.
	Category = "yurt"

	// NamePrefix prefixes the pool name in the name of every object leaderhub
	// publishes for a pool.
	NamePrefix = "leader-hub-"

	// LabelPoolName names the NodePool an object was projected from.
	LabelPoolName = "openyurt.io/pool-name"
	// LabelManagedBy marks objects leaderhub owns; its value is ManagedByValue.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy on leaderhub's objects.
	ManagedByValue = "leaderhub"
	// LabelConfigMapName is set on the upstream-format ConfigMap, as upstream
	// YurtHub expects.
	LabelConfigMapName = "openyurt.io/configmap-name"
	// LabelNodePool is the label OpenYurt puts on a Node to name its
	// NodePool (OpenYurt's apps/v1beta2 LabelNodePool); the edge client
	// follows it.
	LabelNodePool = "apps.openyurt.io/nodepool"

	// AnnotationInterConnectivity is "true" or "false": spec.interConnectivity.
	AnnotationInterConnectivity = "openyurt.io/interconnectivity"
	// AnnotationEnableLeaderElection is "true" or "false": spec.enableLeaderElection.
	AnnotationEnableLeaderElection = "openyurt.io/enable-leader-election"
	// AnnotationPoolScopedMetadata is the sorted, comma-joined
	// group/version/resource list of spec.poolScopeMetadata.
	AnnotationPoolScopedMetadata = "openyurt.io/pool-scoped-metadata"

	// ConfigMapKeyLeaders, in the upstream-format ConfigMap, holds the
	// leaders as node/ip pairs, sorted and comma-joined.
	ConfigMapKeyLeaders = "leaders"
	// ConfigMapKeyPoolScopedMetadata holds what AnnotationPoolScopedMetadata does.
	ConfigMapKeyPoolScopedMetadata = "pool-scoped-metadata"
	// ConfigMapKeyInterConnectivity holds what AnnotationInterConnectivity does.
	ConfigMapKeyInterConnectivity = "interconnectivity"
	// ConfigMapKeyEnableLeaderElection holds what AnnotationEnableLeaderElection does.
	ConfigMapKeyEnableLeaderElection = "enable-leader-election"

	// DefaultLeaderHubPort is the port leader YurtHubs serve on by default.
	DefaultLeaderHubPort = 10269
	// PortName is the name of the leader-hub port in subsets.
	PortName = "https"
)

// ObjectName returns the name of the objects leaderhub publishes for a pool.
func ObjectName(pool string) string {
	return NamePrefix + pool
}
