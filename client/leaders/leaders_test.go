package leaders

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/fake"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	versionedfake "github.com/leaderhub/leaderhub/client/generated/clientset/versioned/fake"
)

func TestLeaderURL(t *testing.T) {
	for ip, want := range map[string]string{
		"10.0.0.1": "https://10.0.0.1:10269",
		"fd00::1":  "https://[fd00::1]:10269",
		"::1":      "https://[::1]:10269",
	} {
		if got := LeaderURL(ip, 10269); got != want {
			t.Errorf("LeaderURL(%q) = %q, want %q", ip, got, want)
		}
	}
}

// TestSourcesParse: the four forms leaderhub publishes of one pool make the
// same Config; the ConfigMap's port is the client's. The forms are the
// files in testdata/forms, which leaderhub's own test
// (pkg/projection TestFormsTheClientReads) checks the server still writes.
func TestSourcesParse(t *testing.T) {
	objs := map[Source][]runtime.Object{
		SourceView:          {readForm(t, "view.yaml")},
		SourceEndpointSlice: {readForm(t, "endpointslice-ipv4.yaml"), readForm(t, "endpointslice-ipv6.yaml")},
		SourceEndpoints:     {readForm(t, "endpoints.yaml")},
		SourceConfigMap:     {readForm(t, "configmap.yaml")},
	}
	want := Config{Leaders: []Leader{newLeader("n1", "10.0.0.1", 10269), newLeader("n2", "fd00::2", 10269)},
		PoolScopedMetadata: []schema.GroupVersionResource{{Version: "v1", Resource: "services"},
			{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}},
		InterConnectivity: true, EnableLeaderElection: true}
	for _, src := range newSources(DefaultSources, versionedfake.NewSimpleClientset(), fake.NewClientset(), "kube-system", "p") {
		for _, obj := range objs[src.name] {
			if !src.belongs(obj) {
				t.Errorf("%s: refuses %T %s", src.name, obj, obj.(metav1.Object).GetName())
			}
		}
		got := src.parse(objs[src.name], 10269)
		sortLeaders(got.Leaders)
		if !got.SameContent(&want) {
			t.Errorf("%s: %+v, want %+v", src.name, got, want)
		}
	}
	v4 := objs[SourceEndpointSlice][0].(*discoveryv1.EndpointSlice)
	// An EndpointSlice endpoint that is not ready is no leader.
	notReady := v4.DeepCopy()
	notReady.Endpoints[0].Conditions.Ready = ptr.To(false)
	if got := newSources([]Source{SourceEndpointSlice}, versionedfake.NewSimpleClientset(), fake.NewClientset(), "", "p")[0].parse([]runtime.Object{notReady}, 1); len(got.Leaders) != 0 {
		t.Errorf("not-ready endpoint read as a leader: %+v", got.Leaders)
	}
	// Malformed ConfigMap entries are skipped, as upstream YurtHub does.
	cm := &corev1.ConfigMap{Data: map[string]string{v1alpha1.ConfigMapKeyLeaders: "n1/10.0.0.1,bad,/x,n2/,n3/10.0.0.3",
		v1alpha1.ConfigMapKeyPoolScopedMetadata: "/v1/services,broken,apps/v1"}}
	got := newSources([]Source{SourceConfigMap}, versionedfake.NewSimpleClientset(), fake.NewClientset(), "", "p")[0].parse([]runtime.Object{cm}, 7)
	if len(got.Leaders) != 2 || got.Leaders[1].URL != "https://10.0.0.3:7" || len(got.PoolScopedMetadata) != 1 {
		t.Errorf("ConfigMap with malformed entries: %+v", got)
	}
}

// TestCache: written atomically and read back; a missing file is no cache;
// a corrupt one is an error the client reports and ignores.
func TestCache(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "leaders.json")
	if c, err := readCache(path); c != nil || err != nil {
		t.Fatalf("missing file: %v %v", c, err)
	}
	cfg := Config{Pool: "p", Exists: true, Leaders: []Leader{newLeader("n1", "fd00::1", 10269)}, Source: SourceView, Stale: true}
	if err := writeCache(path, &cfg); err != nil {
		t.Fatal(err)
	}
	got, err := readCache(path)
	if err != nil || !got.SameContent(&cfg) || got.Stale {
		t.Fatalf("read back %+v, %v", got, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	// A directory that does not exist yet (an agent's new state directory)
	// is made.
	nested := filepath.Join(dir, "state", "leader-hub", "leaders.json")
	if err := writeCache(nested, &cfg); err != nil {
		t.Fatalf("cache file in a new directory: %v", err)
	}
	if got, err := readCache(nested); err != nil || !got.SameContent(&cfg) {
		t.Fatalf("read back from the new directory %+v, %v", got, err)
	}
	for name, data := range map[string]string{"truncated": `{"version":1,"config":{"pool":"p"`, "other version": `{"version":9,"config":{"pool":"p"}}`,
		"no pool": `{"version":1,"config":{}}`} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if c, err := readCache(path); err == nil || c != nil {
			t.Errorf("%s cache file accepted: %+v", name, c)
		}
	}
}

// TestSameContent: where a Config was read is not its content.
func TestSameContent(t *testing.T) {
	a := Config{Pool: "p", Exists: true, Leaders: []Leader{newLeader("n1", "10.0.0.1", 10269)}, Source: SourceView, ResourceVersion: "5"}
	b := a
	b.Source, b.ResourceVersion, b.Stale = SourceEndpoints, "9", true
	if !a.SameContent(&b) {
		t.Error("a source switch changed the content")
	}
	b.Leaders = []Leader{newLeader("n1", "10.0.0.1", 1)}
	if a.SameContent(&b) {
		t.Error("a port change is not a change")
	}
}

// readForm decodes one of the golden forms in testdata/forms.
func readForm(t *testing.T, name string) runtime.Object {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "forms", name))
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	obj, _, err := serializer.NewCodecFactory(scheme).UniversalDeserializer().Decode(data, nil, nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return obj
}
