package projection

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

// Reasons a NodePool cannot be published at all, for Events.
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
//
// A leader is valid when its node name is a DNS subdomain (as an Endpoints
// nodeName must be) and its address an IP that Endpoints accept: not
// unspecified, loopback, link-local or multicast, without a zone; the
// address is kept in canonical form. This is what makes a Pool's packed
// "node/ip,node/ip" string unambiguous: a DNS subdomain is lowercase
// letters, digits, '-' and '.', and a canonical IP is digits, hex letters,
// '.' and ':', so neither ever holds '/' or ','.
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

func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
