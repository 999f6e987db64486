package v1alpha1

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// TestProtobufRoundTrip: a LeaderHub and a LeaderHubList survive protobuf
// through the serializer of this module's apimachinery (the release the edge
// client's embedders run), decoded into a given object and into a new one.
func TestProtobufRoundTrip(t *testing.T) {
	node := "n1"
	scheme := runtime.NewScheme()
	if err := AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	lh := &LeaderHub{TypeMeta: metav1.TypeMeta{APIVersion: SchemeGroupVersion.String(), Kind: "LeaderHub"},
		ObjectMeta: metav1.ObjectMeta{Name: ObjectName("p"), Namespace: "kube-system", ResourceVersion: "7",
			Labels: map[string]string{LabelPoolName: "p"}, Annotations: map[string]string{AnnotationEnableLeaderElection: "true"}},
		Subsets: []LeaderHubSubset{{Addresses: []LeaderHubAddress{{IP: "fd00::1", NodeName: &node}},
			Ports: []LeaderHubPort{{Name: PortName, Port: DefaultLeaderHubPort, Protocol: "TCP"}}}}}
	list := &LeaderHubList{TypeMeta: metav1.TypeMeta{APIVersion: SchemeGroupVersion.String(), Kind: "LeaderHubList"},
		ListMeta: metav1.ListMeta{ResourceVersion: "8"}, Items: []LeaderHub{*lh}}
	list.Items[0].TypeMeta = metav1.TypeMeta{}
	s := protobuf.NewSerializer(scheme, scheme)
	for _, obj := range []runtime.Object{lh, list} {
		data, err := runtime.Encode(s, obj)
		if err != nil {
			t.Fatalf("encoding %T: %v", obj, err)
		}
		into := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(runtime.Object)
		for name, target := range map[string]runtime.Object{"into": into, "new": nil} {
			got, _, err := s.Decode(data, nil, target)
			if err != nil {
				t.Fatalf("decoding %T (%s): %v", obj, name, err)
			}
			if !reflect.DeepEqual(got, obj) {
				t.Errorf("%T (%s) came back as %+v", obj, name, got)
			}
		}
	}
}
