package projection

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unique"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

// Project computes a NodePool's Pool. It returns an *UnpublishableError when
// the pool's objects cannot be named (the pool name does not fit the object
// name or the pool-name label) or its settings do not fit in annotations.
// Leaders that cannot be published are left out and returned as invalid;
// they never make the projection fail.
func Project(np *appsv1beta2.NodePool) (Pool, []InvalidLeader, error) {
	if err := ValidatePoolName(np.Name); err != nil {
		return Pool{}, nil, err
	}
	leaders, invalid := Leaders(np.Status.LeaderEndpoints)
	p := newPool(np.Name, np.UID, leaders)
	p.interConnectivity = np.Spec.InterConnectivity
	p.enableLeaderElection = np.Spec.EnableLeaderElection
	p.metadata = unique.Make(PoolScopedMetadata(np.Spec.PoolScopeMetadata))
	if !np.CreationTimestamp.IsZero() {
		p.created, p.hasCreated = np.CreationTimestamp.Unix(), true
	}
	if err := apivalidation.ValidateAnnotationsSize(p.annotations()); err != nil {
		return Pool{}, nil, &UnpublishableError{Reason: ReasonPoolScopedMetadataTooLarge, Message: fmt.Sprintf(
			"NodePool %q: spec.poolScopeMetadata (%d entries) does not fit in the %s annotation: %v",
			np.Name, len(np.Spec.PoolScopeMetadata), v1alpha1.AnnotationPoolScopedMetadata, err)}
	}
	return p, invalid, nil
}

// PoolScopedMetadata is the sorted, de-duplicated, comma-joined
// group/version/resource list; the core group is empty ("/v1/services").
func PoolScopedMetadata(gvrs []metav1.GroupVersionResource) string {
	items := make([]string, 0, len(gvrs))
	for _, gvr := range gvrs {
		items = append(items, gvr.Group+"/"+gvr.Version+"/"+gvr.Resource)
	}
	slices.Sort(items)
	return strings.Join(slices.Compact(items), ",")
}

// State is what leaderhub makes of one NodePool: the projection it
// publishes, and what it leaves out of the NodePool as it is now.
type State struct {
	// Pool is the published projection. When Published is false only its
	// Name and UID are set.
	Pool Pool
	// Published is true once the pool has had a publishable projection.
	Published bool
	// Invalid are the leader entries of the current NodePool left out.
	Invalid []InvalidLeader
	// Unpublishable says why the current NodePool cannot be published; Pool
	// is then the last projection that could be, if any.
	Unpublishable *UnpublishableError
}

// StateOf projects a NodePool on its own, with what it leaves out.
func StateOf(np *appsv1beta2.NodePool) State {
	p, invalid, err := Project(np)
	if err == nil {
		return State{Pool: p, Published: true, Invalid: invalid}
	}
	// Project fails only with an *UnpublishableError.
	var ue *UnpublishableError
	if !errors.As(err, &ue) {
		ue = &UnpublishableError{Reason: "ProjectionFailed", Message: err.Error()}
	}
	return State{Pool: NamedPool(np.Name, np.UID), Unpublishable: ue}
}
