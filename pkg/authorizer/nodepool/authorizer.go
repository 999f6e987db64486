package nodepool

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/path"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
)

const (
	nodeUserPrefix = "system:node:"
	nodesGroup     = "system:nodes"
)

// PoolLookup tells which NodePool a node belongs to.
type PoolLookup interface {
	// PoolOf returns the pool of the node, false when the node is unknown or
	// belongs to no pool.
	PoolOf(node string) (string, bool, error)
}

// Authorizer narrows nodes to their own pool's LeaderHub.
type Authorizer struct {
	pools     PoolLookup
	namespace string
}

var _ authorizer.Authorizer = &Authorizer{}

// New returns an authorizer for LeaderHubs in namespace.
func New(pools PoolLookup, namespace string) *Authorizer {
	return &Authorizer{pools: pools, namespace: namespace}
}

// nodeReadable allows the non-resource paths a node may GET: discovery,
// OpenAPI and health, each with what lies below it.
var nodeReadable = PathsAuthorizer("/api", "/apis", "/openapi", "/version", "/healthz", "/readyz", "/livez")

// PathsAuthorizer allows non-resource requests for each of paths and
// everything below it (k8s.io/apiserver's path authorizer, given "p" and
// "p/*" for each), and has no opinion on anything else.
func PathsAuthorizer(paths ...string) authorizer.Authorizer {
	patterns := make([]string, 0, 2*len(paths))
	for _, p := range paths {
		patterns = append(patterns, p, p+"/*")
	}
	a, err := path.NewAuthorizer(patterns)
	if err != nil { // the patterns above have no '*' but a trailing one
		panic(fmt.Sprintf("path authorizer for %v: %v", paths, err))
	}
	return a
}

// NodeName returns the node a user is, if it is one.
func NodeName(u user.Info) (string, bool) {
	if u == nil || !strings.HasPrefix(u.GetName(), nodeUserPrefix) || !slices.Contains(u.GetGroups(), nodesGroup) {
		return "", false
	}
	name := strings.TrimPrefix(u.GetName(), nodeUserPrefix)
	return name, name != ""
}

// Authorize allows a node get, list and watch of leader-hub-<its pool> in
// leaderhub's namespace (list and watch must select it by metadata.name), and
// discovery; it denies every other request from a node, and has no opinion
// on anyone else.
func (a *Authorizer) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	node, ok := NodeName(attrs.GetUser())
	if !ok {
		return authorizer.DecisionNoOpinion, "", nil
	}
	if !attrs.IsResourceRequest() {
		if d, _, _ := nodeReadable.Authorize(ctx, attrs); attrs.GetVerb() == "get" && d == authorizer.DecisionAllow {
			return authorizer.DecisionAllow, "", nil
		}
		return authorizer.DecisionDeny, fmt.Sprintf("nodes may only read discovery and health paths, not %s %s", attrs.GetVerb(), attrs.GetPath()), nil
	}
	if attrs.GetAPIGroup() != v1alpha1.GroupName || attrs.GetResource() != v1alpha1.ResourcePlural || attrs.GetSubresource() != "" {
		return authorizer.DecisionDeny, "nodes may only read leaderhubs", nil
	}
	switch attrs.GetVerb() {
	case "get", "list", "watch":
	default:
		return authorizer.DecisionDeny, "leaderhubs are read-only", nil
	}
	if attrs.GetNamespace() != a.namespace {
		return authorizer.DecisionDeny, fmt.Sprintf("nodes may only read leaderhubs in namespace %s", a.namespace), nil
	}
	pool, found, err := a.pools.PoolOf(node)
	if err != nil {
		return authorizer.DecisionDeny, fmt.Sprintf("cannot tell the pool of node %s: %v", node, err), nil
	}
	if !found {
		return authorizer.DecisionDeny, fmt.Sprintf("node %s belongs to no NodePool (no apps.openyurt.io/nodepool label)", node), nil
	}
	want := v1alpha1.ObjectName(pool)
	if attrs.GetName() != want {
		if attrs.GetVerb() != "get" && attrs.GetName() == "" {
			return authorizer.DecisionDeny, fmt.Sprintf("node %s may only %s leaderhubs selected with fieldSelector=metadata.name=%s", node, attrs.GetVerb(), want), nil
		}
		return authorizer.DecisionDeny, fmt.Sprintf("node %s belongs to pool %s and may only read %s", node, pool, want), nil
	}
	return authorizer.DecisionAllow, "", nil
}

// ConditionsAwareAuthorize gives the same answer as Authorize: this
// authorizer has no conditional decisions.
func (a *Authorizer) ConditionsAwareAuthorize(ctx context.Context, attrs authorizer.Attributes) authorizer.ConditionsAwareDecision {
	return authorizer.ConditionsAwareDecisionFromParts(a.Authorize(ctx, attrs))
}

// EvaluateConditions is not supported and fails closed.
func (a *Authorizer) EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}
