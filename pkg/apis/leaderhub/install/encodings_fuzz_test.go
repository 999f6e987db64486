package install

import (
	"bytes"
	"testing"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/util/diff"
	"sigs.k8s.io/randfill"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
)

// FuzzLeaderHubEncodings: a random v1alpha1 LeaderHub (filled from the
// fuzzer's bytes) goes protobuf → JSON → internal → v1alpha1 → protobuf and
// comes back unchanged at every step, and its protobuf bytes are stable: a
// client gets the same object whichever encoding it asks for.
func FuzzLeaderHubEncodings(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("leader-hub-hangzhou\x00\x01\x02192.168.10.11"))
	f.Add(bytes.Repeat([]byte{0xff, 0x00, 0x7f}, 64))

	scheme := runtime.NewScheme()
	Install(scheme)
	codecs := runtimeserializer.NewCodecFactory(scheme)
	pb := protobuf.NewSerializer(scheme, scheme)
	pbCodec := codecs.CodecForVersions(pb, pb, v1alpha1.SchemeGroupVersion, v1alpha1.SchemeGroupVersion)
	jsonCodec := codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)
	metaFuncs := metafuzzer.Funcs(codecs)

	f.Fuzz(func(t *testing.T, data []byte) {
		want := &v1alpha1.LeaderHub{}
		randfill.NewFromGoFuzz(data).NilChance(0.2).Funcs(metaFuncs...).Fill(want)
		want.APIVersion, want.Kind = v1alpha1.SchemeGroupVersion.WithKind("LeaderHub").ToAPIVersionAndKind()

		pbBytes, err := runtime.Encode(pbCodec, want)
		if err != nil {
			t.Fatalf("protobuf encode: %v", err)
		}
		fromPB, err := runtime.Decode(pbCodec, pbBytes)
		if err != nil {
			t.Fatalf("protobuf decode: %v", err)
		}
		if !apiequality.Semantic.DeepEqual(want, fromPB) {
			t.Fatalf("protobuf round trip changed the object:\n%s", diff.Diff(want, fromPB))
		}

		jsonBytes, err := runtime.Encode(jsonCodec, fromPB)
		if err != nil {
			t.Fatalf("JSON encode: %v", err)
		}
		internal := &leaderhub.LeaderHub{}
		if err := runtime.DecodeInto(codecs.UniversalDecoder(), jsonBytes, internal); err != nil {
			t.Fatalf("JSON decode to internal: %v", err)
		}
		back := &v1alpha1.LeaderHub{}
		if err := scheme.Convert(internal, back, nil); err != nil {
			t.Fatalf("internal to v1alpha1: %v", err)
		}
		back.TypeMeta = want.TypeMeta
		if !apiequality.Semantic.DeepEqual(want, back) {
			t.Fatalf("protobuf → JSON → internal → v1alpha1 changed the object:\n%s", diff.Diff(want, back))
		}
		again, err := runtime.Encode(pbCodec, back)
		if err != nil {
			t.Fatalf("protobuf encode: %v", err)
		}
		if !bytes.Equal(again, pbBytes) {
			t.Fatalf("protobuf bytes differ after the round trip")
		}
	})
}
