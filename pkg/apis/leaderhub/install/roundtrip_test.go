package install

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
)

// noFuzzerFuncs: LeaderHub has no field whose random values need shaping.
func noFuzzerFuncs(runtimeserializer.CodecFactory) []interface{} { return nil }

// TestRoundTrip: random LeaderHubs and lists survive internal → v1alpha1 →
// JSON and YAML → internal unchanged, as sample-apiserver checks its types.
func TestRoundTrip(t *testing.T) {
	roundtrip.RoundTripTestForAPIGroup(t, Install, noFuzzerFuncs)
}
