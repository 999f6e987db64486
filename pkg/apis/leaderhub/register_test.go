package leaderhub

import "testing"

// TestResource: resources are named with the group, as NotFound errors show
// them (the kinds are registered and round-tripped in package install).
func TestResource(t *testing.T) {
	if got := Resource("leaderhubs").String(); got != "leaderhubs.leaderhub.openyurt.io" {
		t.Errorf("Resource = %q", got)
	}
}
