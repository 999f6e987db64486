package install

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
)

// noFuzzerFuncs: LeaderHub has no field whose random values need shaping.
func noFuzzerFuncs(runtimeserializer.CodecFactory) []interface{} { return nil }

// TestRoundTrip: random LeaderHubs and lists survive internal → v1alpha1 →
// JSON and YAML → internal unchanged, as sample-apiserver checks its types.
func TestRoundTrip(t *testing.T) {
	roundtrip.RoundTripTestForAPIGroup(t, Install, noFuzzerFuncs)
}

// TestRoundTripProtobuf: the same through protobuf (v1alpha1 is served in
// protobuf; the internal version never is).
func TestRoundTripProtobuf(t *testing.T) {
	roundtrip.RoundTripProtobufTestForAPIGroup(t, Install, noFuzzerFuncs)
}

// TestInstall: both versions know both kinds, and v1alpha1 is preferred.
func TestInstall(t *testing.T) {
	scheme := runtime.NewScheme()
	Install(scheme)
	for _, gv := range []schema.GroupVersion{leaderhub.SchemeGroupVersion, v1alpha1.SchemeGroupVersion} {
		for _, kind := range []string{"LeaderHub", "LeaderHubList"} {
			if !scheme.Recognizes(gv.WithKind(kind)) {
				t.Errorf("the scheme does not know %s", gv.WithKind(kind))
			}
		}
	}
	if got := scheme.PrioritizedVersionsForGroup(leaderhub.GroupName); len(got) != 1 || got[0] != v1alpha1.SchemeGroupVersion {
		t.Errorf("preferred versions %v", got)
	}
}
