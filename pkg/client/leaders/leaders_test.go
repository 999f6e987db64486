package leaders

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
	versionedfake "github.com/leaderhub/leaderhub/pkg/generated/clientset/versioned/fake"
	"github.com/leaderhub/leaderhub/pkg/projection"
	"github.com/leaderhub/leaderhub/test/fixtures"
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
// same Config; the ConfigMap's port is the client's.
func TestSourcesParse(t *testing.T) {
	np := fixtures.NodePool("p", fixtures.InterConnected(), fixtures.WithElection("", 0),
		fixtures.WithPoolScopeMetadata(fixtures.DefaultPoolScopeMetadata...),
		fixtures.WithLeaders(fixtures.Leaders("n2/fd00::2", "n1/10.0.0.1")...))
	st := projection.StateOf(np)
	opts := projection.Options{Namespace: "kube-system", LeaderHubPort: 10269}
	v4, _ := st.Pool.EndpointSlice(opts, discoveryv1.AddressTypeIPv4)
	v6, _ := st.Pool.EndpointSlice(opts, discoveryv1.AddressTypeIPv6)
	lh := st.Pool.LeaderHub(opts)
	wireLH := &v1alpha1.LeaderHub{ObjectMeta: lh.ObjectMeta}
	for _, s := range lh.Subsets {
		ws := v1alpha1.LeaderHubSubset{}
		for _, a := range s.Addresses {
			ws.Addresses = append(ws.Addresses, v1alpha1.LeaderHubAddress{IP: a.IP, NodeName: a.NodeName})
		}
		for _, p := range s.Ports {
			ws.Ports = append(ws.Ports, v1alpha1.LeaderHubPort{Name: p.Name, Port: p.Port, Protocol: p.Protocol})
		}
		wireLH.Subsets = append(wireLH.Subsets, ws)
	}
	objs := map[Source][]runtime.Object{
		SourceView:          {wireLH},
		SourceEndpointSlice: {v4, v6},
		SourceEndpoints:     {st.Pool.Endpoints(opts)},
		SourceConfigMap:     {st.Pool.ConfigMap(opts)},
	}
	want := Config{Leaders: []Leader{newLeader("n1", "10.0.0.1", 10269), newLeader("n2", "fd00::2", 10269)},
		PoolScopedMetadata: []schema.GroupVersionResource{{Version: "v1", Resource: "services"},
			{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}},
		InterConnectivity: true, EnableLeaderElection: true}
	for _, src := range newSources(DefaultSources, versionedfake.NewClientset(), fake.NewClientset(), "kube-system", "p") {
		got := src.parse(objs[src.name], 10269)
		sortLeaders(got.Leaders)
		if !got.SameContent(&want) {
			t.Errorf("%s: %+v, want %+v", src.name, got, want)
		}
	}
	// An EndpointSlice endpoint that is not ready is no leader.
	notReady := v4.DeepCopy()
	notReady.Endpoints[0].Conditions.Ready = ptr.To(false)
	if got := newSources([]Source{SourceEndpointSlice}, versionedfake.NewClientset(), fake.NewClientset(), "", "p")[0].parse([]runtime.Object{notReady}, 1); len(got.Leaders) != 0 {
		t.Errorf("not-ready endpoint read as a leader: %+v", got.Leaders)
	}
	// Malformed ConfigMap entries are skipped, as upstream YurtHub does.
	cm := &corev1.ConfigMap{Data: map[string]string{v1alpha1.ConfigMapKeyLeaders: "n1/10.0.0.1,bad,/x,n2/,n3/10.0.0.3",
		v1alpha1.ConfigMapKeyPoolScopedMetadata: "/v1/services,broken,apps/v1"}}
	got := newSources([]Source{SourceConfigMap}, versionedfake.NewClientset(), fake.NewClientset(), "", "p")[0].parse([]runtime.Object{cm}, 7)
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
