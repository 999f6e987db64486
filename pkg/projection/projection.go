package projection

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unique"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
)

// Options are the server-wide inputs of a projection.
type Options struct {
	// Namespace is where every projected object lives.
	Namespace string
	// LeaderHubPort is the port leader YurtHubs serve on.
	LeaderHubPort int32
}

// InvalidLeader is a status.leaderEndpoints entry left out of the projection.
type InvalidLeader struct {
	// Index is the entry's position in status.leaderEndpoints.
	Index  int
	Leader appsv1beta2.Leader
	Reason string
}

func (l InvalidLeader) String() string {
	return fmt.Sprintf("leaderEndpoints[%d] {nodeName: %q, address: %q}: %s", l.Index, l.Leader.NodeName, l.Leader.Address, l.Reason)
}

// Leader is a valid leader of a pool, with its address in canonical form.
type Leader struct {
	NodeName string
	IP       string
}

// Reasons a NodePool cannot be published at all.
const (
	ReasonInvalidPoolName            = "InvalidPoolName"
	ReasonPoolScopedMetadataTooLarge = "PoolScopedMetadataTooLarge"
)

// UnpublishableError says why a NodePool cannot be published, with a
// CamelCase reason for Events.
type UnpublishableError struct {
	Reason  string
	Message string
}

func (e *UnpublishableError) Error() string { return e.Message }

// Pool is the compact projection of one NodePool: exactly the inputs a
// LeaderHub, an Endpoints and a ConfigMap are built from, and nothing else.
// Stores keep a Pool per NodePool instead of any of those objects, which
// are many times larger, so a Pool is laid out for size: its strings share
// one allocation, and it is 48 bytes besides. A Pool is never modified once
// built; its zero value is a pool with no name.
type Pool struct {
	// text is the pool's name, its uid, then its valid leaders as
	// "node/ip,node/ip" (sorted, as Leaders returns them), back to back.
	// Neither part of a leader can hold "/" or ",": node names are DNS
	// subdomains and addresses are canonical IPs.
	text            string
	nameEnd, uidEnd int32
	// created is the creationTimestamp in Unix seconds, the precision the
	// API serializes it in; hasCreated is false for a zero timestamp.
	created int64
	// metadata is the AnnotationPoolScopedMetadata value, interned: the
	// pools of a cluster usually share one list, so they share one copy of
	// it (and compare it by pointer).
	metadata                                            unique.Handle[string]
	interConnectivity, enableLeaderElection, hasCreated bool
}

// NamedPool is the Pool of a NodePool that has nothing published: only its
// name and uid are set.
func NamedPool(name string, uid types.UID) Pool {
	return newPool(name, uid, nil)
}

// newPool packs name, uid and leaders into one string, in one allocation.
func newPool(name string, uid types.UID, leaders []Leader) Pool {
	size := len(name) + len(uid)
	for _, l := range leaders {
		size += len(l.NodeName) + len(l.IP) + 2 // "/" and ","
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString(name)
	b.WriteString(string(uid))
	for i, l := range leaders {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.NodeName)
		b.WriteByte('/')
		b.WriteString(l.IP)
	}
	return Pool{text: b.String(), nameEnd: int32(len(name)), uidEnd: int32(len(name) + len(uid))}
}

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
	if err := apivalidation.ValidateAnnotationsSize(p.Annotations()); err != nil {
		return Pool{}, nil, &UnpublishableError{Reason: ReasonPoolScopedMetadataTooLarge, Message: fmt.Sprintf(
			"NodePool %q: spec.poolScopeMetadata (%d entries) does not fit in the %s annotation: %v",
			np.Name, len(np.Spec.PoolScopeMetadata), v1alpha1.AnnotationPoolScopedMetadata, err)}
	}
	return p, invalid, nil
}

// Equal reports whether two Pools publish the same thing.
func (p *Pool) Equal(q *Pool) bool {
	return *p == *q
}

// Name is the NodePool's name.
func (p *Pool) Name() string { return p.text[:p.nameEnd] }

// UID is the NodePool's uid.
func (p *Pool) UID() types.UID { return types.UID(p.text[p.nameEnd:p.uidEnd]) }

// CreationTimestamp is the NodePool's, to the second.
func (p *Pool) CreationTimestamp() metav1.Time {
	if !p.hasCreated {
		return metav1.Time{}
	}
	return metav1.Unix(p.created, 0)
}

// InterConnectivity is the pool's spec.interConnectivity.
func (p *Pool) InterConnectivity() bool { return p.interConnectivity }

// EnableLeaderElection is the pool's spec.enableLeaderElection.
func (p *Pool) EnableLeaderElection() bool { return p.enableLeaderElection }

// LeadersString is the valid leaders as "node/ip,node/ip", sorted as Leaders
// returns them: the form of kubectl's LEADERS column.
func (p *Pool) LeadersString() string { return p.text[p.uidEnd:] }

// Leaders yields the valid leaders, sorted as Leaders returns them.
func (p *Pool) Leaders() iter.Seq[Leader] {
	return func(yield func(Leader) bool) {
		if p.LeadersString() == "" {
			return
		}
		for pair := range strings.SplitSeq(p.LeadersString(), ",") {
			node, ip, _ := strings.Cut(pair, "/")
			if !yield(Leader{NodeName: node, IP: ip}) {
				return
			}
		}
	}
}

// LeaderCount is how many valid leaders the pool has.
func (p *Pool) LeaderCount() int {
	if p.LeadersString() == "" {
		return 0
	}
	return strings.Count(p.LeadersString(), ",") + 1
}

// PoolScopedMetadata is the AnnotationPoolScopedMetadata value; "" when
// the pool has none.
func (p *Pool) PoolScopedMetadata() string {
	if p.metadata == (unique.Handle[string]{}) {
		return ""
	}
	return p.metadata.Value()
}

// Annotations are the contract annotations carrying the pool's settings.
func (p *Pool) Annotations() map[string]string {
	return map[string]string{
		v1alpha1.AnnotationInterConnectivity:    strconv.FormatBool(p.interConnectivity),
		v1alpha1.AnnotationEnableLeaderElection: strconv.FormatBool(p.enableLeaderElection),
		v1alpha1.AnnotationPoolScopedMetadata:   p.PoolScopedMetadata(),
	}
}

// OwnerReference points at the pool's NodePool as the controller of its
// objects.
func (p *Pool) OwnerReference() metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: appsv1beta2.SchemeGroupVersion.String(),
		Kind:       "NodePool",
		Name:       p.Name(),
		UID:        p.UID(),
		Controller: ptr.To(true),
	}
}

// LeaderHub builds the pool's LeaderHub. It has no resourceVersion: the
// caller sets it.
func (p *Pool) LeaderHub(opts Options) *v1alpha1.LeaderHub {
	lh := &v1alpha1.LeaderHub{
		ObjectMeta: metav1.ObjectMeta{
			Name:              v1alpha1.ObjectName(p.Name()),
			Namespace:         opts.Namespace,
			UID:               p.UID(),
			CreationTimestamp: p.CreationTimestamp(),
			Labels:            Labels(p.Name()),
			Annotations:       p.Annotations(),
			OwnerReferences:   []metav1.OwnerReference{p.OwnerReference()},
		},
	}
	if n := p.LeaderCount(); n > 0 {
		subset := v1alpha1.LeaderHubSubset{
			Addresses: make([]v1alpha1.LeaderHubAddress, 0, n),
			Ports:     []v1alpha1.LeaderHubPort{{Name: v1alpha1.PortName, Port: opts.LeaderHubPort, Protocol: corev1.ProtocolTCP}},
		}
		for l := range p.Leaders() {
			subset.Addresses = append(subset.Addresses, v1alpha1.LeaderHubAddress{IP: l.IP, NodeName: ptr.To(l.NodeName)})
		}
		lh.Subsets = []v1alpha1.LeaderHubSubset{subset}
	}
	return lh
}

// LeaderHub projects a NodePool: Project, then Pool.LeaderHub.
func LeaderHub(np *appsv1beta2.NodePool, opts Options) (*v1alpha1.LeaderHub, []InvalidLeader, error) {
	p, invalid, err := Project(np)
	if err != nil {
		return nil, nil, err
	}
	return p.LeaderHub(opts), invalid, nil
}

// ValidatePoolName reports whether a pool's objects can be named: the object
// name must be a DNS subdomain (as Endpoints and ConfigMap names are) and the
// pool name a valid label value (at most 63 characters).
func ValidatePoolName(pool string) error {
	invalid := func(format string, args ...interface{}) error {
		return &UnpublishableError{Reason: ReasonInvalidPoolName, Message: fmt.Sprintf(format, args...)}
	}
	if pool == "" {
		return invalid("NodePool has no name")
	}
	if errs := validation.IsDNS1123Subdomain(v1alpha1.ObjectName(pool)); len(errs) > 0 {
		return invalid("NodePool %q: object name %q is invalid: %s", truncate(pool), truncate(v1alpha1.ObjectName(pool)), strings.Join(errs, "; "))
	}
	if errs := validation.IsValidLabelValue(pool); len(errs) > 0 {
		return invalid("NodePool %q: pool name is not a valid %s label value: %s", truncate(pool), v1alpha1.LabelPoolName, strings.Join(errs, "; "))
	}
	return nil
}

// Leaders returns the valid leaders sorted by node name, then address, with
// exact duplicates removed, and the entries left out with the reason.
// A leader is valid when its node name is a DNS subdomain (as an Endpoints
// nodeName must be) and its address an IP that Endpoints accept: not
// unspecified, loopback, link-local or multicast, without a zone.
func Leaders(in []appsv1beta2.Leader) ([]Leader, []InvalidLeader) {
	var valid []Leader
	var invalid []InvalidLeader
	seen := make(map[Leader]bool, len(in))
	for i, l := range in {
		ip, reason := canonicalIP(l.Address)
		if reason == "" {
			reason = nodeNameProblem(l.NodeName)
		}
		if reason != "" {
			invalid = append(invalid, InvalidLeader{Index: i, Leader: l, Reason: reason})
			continue
		}
		key := Leader{NodeName: l.NodeName, IP: ip}
		if seen[key] {
			invalid = append(invalid, InvalidLeader{Index: i, Leader: l, Reason: "duplicate of an earlier entry"})
			continue
		}
		seen[key] = true
		valid = append(valid, key)
	}
	slices.SortFunc(valid, func(a, b Leader) int {
		return cmp.Or(cmp.Compare(a.NodeName, b.NodeName), cmp.Compare(a.IP, b.IP))
	})
	return valid, invalid
}

func canonicalIP(address string) (string, string) {
	addr, err := netip.ParseAddr(address)
	switch {
	case address == "":
		return "", "address is empty"
	case err != nil:
		return "", fmt.Sprintf("address %q is not an IP address", truncate(address))
	case addr.Zone() != "":
		return "", fmt.Sprintf("address %q has a zone", address)
	case addr.IsUnspecified():
		return "", fmt.Sprintf("address %q is unspecified", address)
	case addr.IsLoopback():
		return "", fmt.Sprintf("address %q is a loopback address", address)
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast():
		return "", fmt.Sprintf("address %q is link-local", address)
	case addr.IsMulticast():
		return "", fmt.Sprintf("address %q is multicast", address)
	}
	return addr.Unmap().String(), ""
}

func nodeNameProblem(name string) string {
	if name == "" {
		return "nodeName is empty"
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Sprintf("nodeName %q is invalid: %s", truncate(name), strings.Join(errs, "; "))
	}
	return ""
}

// Labels are the contract labels of a pool's objects.
func Labels(pool string) map[string]string {
	return map[string]string{
		v1alpha1.LabelPoolName:  pool,
		v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue,
	}
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

// Equal reports whether two projections publish the same thing: everything
// but the resourceVersion, which records when a projection last changed.
func Equal(a, b *v1alpha1.LeaderHub) bool {
	if a == nil || b == nil {
		return a == b
	}
	am, bm := a.ObjectMeta, b.ObjectMeta
	am.ResourceVersion, bm.ResourceVersion = "", ""
	return apiequality.Semantic.DeepEqual(am, bm) && apiequality.Semantic.DeepEqual(a.Subsets, b.Subsets)
}

// LeadersString renders a projection's leaders as "node/ip,node/ip", the
// form of kubectl's LEADERS column and of upstream YurtHub's "leaders" key.
func LeadersString(subsets []v1alpha1.LeaderHubSubset) string {
	return strings.Join(leaderPairs(subsets), ",")
}

// leaderPairs lists a projection's leaders as "node/ip", in subset order.
func leaderPairs(subsets []v1alpha1.LeaderHubSubset) []string {
	var parts []string
	for _, s := range subsets {
		for _, a := range s.Addresses {
			parts = append(parts, ptr.Deref(a.NodeName, "")+"/"+a.IP)
		}
	}
	return parts
}

func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
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

// StateOf projects a NodePool on its own.
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

// After returns s as it stands after prev (nil for a new pool): a NodePool
// that cannot be published keeps the last projection that was.
func (s State) After(prev *State) State {
	if s.Unpublishable != nil && prev != nil && prev.Published {
		s.Pool, s.Published = prev.Pool, true
	}
	return s
}

// SameProjection reports whether s and t publish the same thing.
func (s *State) SameProjection(t *State) bool {
	return s.Published == t.Published && (!s.Published || s.Pool.Equal(&t.Pool))
}

// SameProblems reports whether s and t leave out the same things for the
// same reasons.
func (s *State) SameProblems(t *State) bool {
	if (s.Unpublishable == nil) != (t.Unpublishable == nil) {
		return false
	}
	if s.Unpublishable != nil && *s.Unpublishable != *t.Unpublishable {
		return false
	}
	return slices.Equal(s.Invalid, t.Invalid)
}
