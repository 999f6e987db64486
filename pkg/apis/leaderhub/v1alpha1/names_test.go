package v1alpha1

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
)

// TestNamesAndRegistration: object names follow the contract, and the
// scheme knows the kinds with their defaults and conversions.
func TestNamesAndRegistration(t *testing.T) {
	if got := ObjectName("hangzhou"); got != "leader-hub-hangzhou" {
		t.Errorf("ObjectName = %q", got)
	}
	scheme := runtime.NewScheme()
	if err := AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"LeaderHub", "LeaderHubList"} {
		if !scheme.Recognizes(SchemeGroupVersion.WithKind(kind)) {
			t.Errorf("the scheme does not know %s", kind)
		}
	}
	if got := Resource(ResourcePlural).String(); got != "leaderhubs.leaderhub.openyurt.io" {
		t.Errorf("Resource = %q", got)
	}
}
