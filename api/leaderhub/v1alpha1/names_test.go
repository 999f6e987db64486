package v1alpha1

import "testing"

// TestNames: object names and resources follow the contract (the kinds are
// registered and round-tripped in package install).
func TestNames(t *testing.T) {
	if got := ObjectName("hangzhou"); got != "leader-hub-hangzhou" {
		t.Errorf("ObjectName = %q", got)
	}
	if got := Resource(ResourcePlural).String(); got != "leaderhubs.leaderhub.openyurt.io" {
		t.Errorf("Resource = %q", got)
	}
}
