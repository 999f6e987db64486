package leaderhub

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
)

// TestRegister: the internal version knows its kinds, and names its
// resources with the group (as NotFound errors show them).
func TestRegister(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"LeaderHub", "LeaderHubList"} {
		if !scheme.Recognizes(SchemeGroupVersion.WithKind(kind)) {
			t.Errorf("the scheme does not know %s", kind)
		}
	}
	if got := Resource("leaderhubs").String(); got != "leaderhubs.leaderhub.openyurt.io" {
		t.Errorf("Resource = %q", got)
	}
}
