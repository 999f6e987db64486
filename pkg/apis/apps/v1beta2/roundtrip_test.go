package v1beta2

import (
	"encoding/json"
	"testing"

	"math/rand"

	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// TestNodePoolJSONRoundTrip: random NodePools survive JSON through the
// scheme's codec unchanged, and the scheme knows the group's kinds.
func TestNodePoolJSONRoundTrip(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	codecs := serializer.NewCodecFactory(scheme)
	f := fuzzer.FuzzerFor(metafuzzer.Funcs, rand.NewSource(rand.Int63()), codecs)
	encoder := codecs.EncoderForVersion(codecs.LegacyCodec(SchemeGroupVersion), SchemeGroupVersion)
	decoder := codecs.UniversalDeserializer()
	for i := 0; i < 200; i++ {
		in := &NodePool{}
		f.Fill(in)
		data, err := runtime.Encode(encoder, in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := runtime.Decode(decoder, data)
		if err != nil {
			t.Fatalf("decoding %s: %v", data, err)
		}
		in.APIVersion, in.Kind = SchemeGroupVersion.String(), "NodePool"
		if !apiequality.Semantic.DeepEqual(in, out) {
			var a, b map[string]any
			_ = json.Unmarshal(data, &a)
			raw, _ := json.Marshal(out)
			_ = json.Unmarshal(raw, &b)
			t.Fatalf("round trip changed the NodePool:\n%v\n%v", a, b)
		}
	}
	for _, kind := range []string{"NodePool", "NodePoolList"} {
		if !scheme.Recognizes(SchemeGroupVersion.WithKind(kind)) {
			t.Errorf("the scheme does not know %s", kind)
		}
	}
	if got := Resource("nodepools").String(); got != "nodepools.apps.openyurt.io" {
		t.Errorf("Resource = %q", got)
	}
}
