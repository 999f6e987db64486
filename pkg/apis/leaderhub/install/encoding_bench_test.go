package install

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/utils/ptr"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
)

// A LeaderHub as the view serves it for a pool with two leaders (the
// sample hangzhou pool), and the Endpoints the controller writes for it.
func sampleLeaderHub() *v1alpha1.LeaderHub {
	return &v1alpha1.LeaderHub{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "LeaderHub"},
		ObjectMeta: sampleMeta(),
		Subsets: []v1alpha1.LeaderHubSubset{{
			Addresses: []v1alpha1.LeaderHubAddress{{IP: "192.168.10.11", NodeName: ptr.To("hz-edge-1")}, {IP: "192.168.10.12", NodeName: ptr.To("hz-edge-2")}},
			Ports:     []v1alpha1.LeaderHubPort{{Name: "https", Port: 10269, Protocol: corev1.ProtocolTCP}},
		}},
	}
}

func sampleEndpoints() *corev1.Endpoints {
	return &corev1.Endpoints{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Endpoints"},
		ObjectMeta: sampleMeta(),
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "192.168.10.11", NodeName: ptr.To("hz-edge-1")}, {IP: "192.168.10.12", NodeName: ptr.To("hz-edge-2")}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: 10269, Protocol: corev1.ProtocolTCP}},
		}},
	}
}

func sampleMeta() metav1.ObjectMeta {
	uid := types.UID("8b83a069-4e05-4734-bfda-008abfb2be28")
	return metav1.ObjectMeta{
		Name: "leader-hub-hangzhou", Namespace: "kube-system", UID: uid, ResourceVersion: "232",
		CreationTimestamp: metav1.Unix(1795796953, 0),
		Labels:            map[string]string{"app.kubernetes.io/managed-by": "leaderhub", "openyurt.io/pool-name": "hangzhou"},
		Annotations: map[string]string{
			"openyurt.io/enable-leader-election": "true", "openyurt.io/interconnectivity": "true",
			"openyurt.io/pool-scoped-metadata": "/v1/services,discovery.k8s.io/v1/endpointslices",
		},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps.openyurt.io/v1beta2", Kind: "NodePool", Name: "hangzhou", UID: uid, Controller: ptr.To(true)}},
	}
}

// encodeEvent encodes obj as one watch event the way a watch stream carries
// it: the object in the requested encoding inside a WatchEvent.
type encodeEvent func(obj runtime.Object) ([]byte, error)

func eventEncoders(scheme *runtime.Scheme) map[string]encodeEvent {
	codecs := runtimeserializer.NewCodecFactory(scheme)
	jsonInfo, _ := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	pb := protobuf.NewSerializer(scheme, scheme)
	return map[string]encodeEvent{
		"json": func(obj runtime.Object) ([]byte, error) {
			raw, err := runtime.Encode(jsonInfo.Serializer, obj)
			if err != nil {
				return nil, err
			}
			return json.Marshal(&metav1.WatchEvent{Type: "MODIFIED", Object: runtime.RawExtension{Raw: raw}})
		},
		"protobuf": func(obj runtime.Object) ([]byte, error) {
			raw, err := runtime.Encode(pb, obj)
			if err != nil {
				return nil, err
			}
			return (&metav1.WatchEvent{Type: "MODIFIED", Object: runtime.RawExtension{Raw: raw}}).Marshal()
		},
	}
}

// BenchmarkEncodeWatchEvent: the time to encode one watch event of the view
// and of the Endpoints form, in JSON and in protobuf; B/event is its size.
func BenchmarkEncodeWatchEvent(b *testing.B) {
	scheme := runtime.NewScheme()
	Install(scheme)
	if err := corev1.AddToScheme(scheme); err != nil {
		b.Fatal(err)
	}
	objects := map[string]runtime.Object{"LeaderHub": sampleLeaderHub(), "Endpoints": sampleEndpoints()}
	for _, kind := range []string{"LeaderHub", "Endpoints"} {
		for _, encoding := range []string{"json", "protobuf"} {
			encode := eventEncoders(scheme)[encoding]
			b.Run(kind+"/"+encoding, func(b *testing.B) {
				var size int
				b.ReportAllocs()
				for b.Loop() {
					out, err := encode(objects[kind])
					if err != nil {
						b.Fatal(err)
					}
					size = len(out)
				}
				b.ReportMetric(float64(size), "B/event")
			})
		}
	}
}

// TestProtobufIsEndpointsWire: the field numbers mirror core/v1 Endpoints,
// so a LeaderHub's protobuf message decodes as an Endpoints message with the
// same metadata and subsets (docs/design.md, "The forms").
func TestProtobufIsEndpointsWire(t *testing.T) {
	lh := sampleLeaderHub()
	data, err := lh.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var got corev1.Endpoints
	if err := got.Unmarshal(data); err != nil {
		t.Fatalf("a LeaderHub message does not decode as Endpoints: %v", err)
	}
	want := sampleEndpoints()
	want.TypeMeta = metav1.TypeMeta{}
	if !apiequality.Semantic.DeepEqual(&got, want) {
		t.Errorf("decoded as Endpoints:\n%s", diff.Diff(want, &got))
	}
}
