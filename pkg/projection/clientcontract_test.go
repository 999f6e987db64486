package projection_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/install"
	"github.com/leaderhub/leaderhub/pkg/projection"
	"github.com/leaderhub/leaderhub/test/fixtures"
)

var updateForms = flag.Bool("update-client-forms", false, "rewrite the edge client's golden forms from the projection")

// clientForms is where the edge client's module keeps the forms it is
// tested to read (client/leaders, TestSourcesParse).
const clientForms = "../../client/leaders/testdata/forms"

// TestFormsTheClientReads: the four forms the projection makes of one
// pool are, byte for byte, the golden files the edge client's own test
// parses, so the server and the client (a module of its own) cannot drift
// apart. Run with -update-client-forms after a deliberate change.
func TestFormsTheClientReads(t *testing.T) {
	np := fixtures.NodePool("p", fixtures.InterConnected(), fixtures.WithElection("", 0),
		fixtures.WithPoolScopeMetadata(fixtures.DefaultPoolScopeMetadata...),
		fixtures.WithLeaders(fixtures.Leaders("n2/fd00::2", "n1/10.0.0.1")...))
	st := projection.StateOf(np)
	opts := projection.Options{Namespace: "kube-system", LeaderHubPort: 10269}
	scheme := runtime.NewScheme()
	install.Install(scheme)
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	view := &v1alpha1.LeaderHub{}
	if err := scheme.Convert(st.Pool.LeaderHub(opts), view, nil); err != nil {
		t.Fatal(err)
	}
	v4, _ := st.Pool.EndpointSlice(opts, discoveryv1.AddressTypeIPv4)
	v6, _ := st.Pool.EndpointSlice(opts, discoveryv1.AddressTypeIPv6)
	forms := map[string]runtime.Object{
		"view.yaml":               view,
		"endpointslice-ipv4.yaml": v4,
		"endpointslice-ipv6.yaml": v6,
		"endpoints.yaml":          st.Pool.Endpoints(opts),
		"configmap.yaml":          st.Pool.ConfigMap(opts),
	}
	serializer := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{Yaml: true})
	for name, obj := range forms {
		gvks, _, err := scheme.ObjectKinds(obj)
		if err != nil {
			t.Fatal(err)
		}
		obj.GetObjectKind().SetGroupVersionKind(gvks[0])
		var got bytes.Buffer
		if err := serializer.Encode(obj, &got); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(clientForms, name)
		if *updateForms {
			if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s: the projection writes\n%s\nthe edge client is tested on\n%s\n(rerun with -update-client-forms if the change is deliberate)", name, got.Bytes(), want)
		}
	}
}

// TestNodePoolLabel: the edge client's copy of the Node label that names
// a pool is OpenYurt's.
func TestNodePoolLabel(t *testing.T) {
	if v1alpha1.LabelNodePool != appsv1beta2.LabelNodePool {
		t.Errorf("v1alpha1.LabelNodePool %q, OpenYurt's %q", v1alpha1.LabelNodePool, appsv1beta2.LabelNodePool)
	}
}
