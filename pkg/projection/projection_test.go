package projection

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
	leaderhubv1alpha1 "github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/test/fixtures"
)

var opts = Options{Namespace: "kube-system", LeaderHubPort: 10269}

// project projects a NodePool into the view's object, or says why not.
func project(np *appsv1beta2.NodePool) (*leaderhub.LeaderHub, []InvalidLeader, error) {
	p, invalid, err := Project(np)
	if err != nil {
		return nil, nil, err
	}
	return p.LeaderHub(opts), invalid, nil
}

// wire is the object as served: the v1alpha1 LeaderHub.
func wire(t testing.TB, lh *leaderhub.LeaderHub) *v1alpha1.LeaderHub {
	t.Helper()
	out := &v1alpha1.LeaderHub{}
	if err := leaderhubv1alpha1.Convert_leaderhub_LeaderHub_To_v1alpha1_LeaderHub(lh, out, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

// leadersOf renders an object's leaders as "node/ip,...".
func leadersOf(lh *leaderhub.LeaderHub) string {
	var parts []string
	for _, s := range lh.Subsets {
		for _, a := range s.Addresses {
			parts = append(parts, *a.NodeName+"/"+a.IP)
		}
	}
	return strings.Join(parts, ",")
}

// pool is a NodePool as upstream's webhook leaves it, with two settings on,
// some status churn, and leaders.
func pool(name string, leaders ...appsv1beta2.Leader) *appsv1beta2.NodePool {
	np := fixtures.NodePool(name, fixtures.WithResourceVersion(42), fixtures.CreatedAt(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		fixtures.InterConnected(), fixtures.WithElection("", 0), fixtures.WithPoolScopeMetadata(fixtures.DefaultPoolScopeMetadata...),
		fixtures.WithLeaders(leaders...))
	np.Status.ReadyNodeNum, np.Status.Nodes = 3, []string{"a", "b"}
	return np
}

// TestLeaderHubContract compares a whole projected object, as JSON, with the
// object docs/design.md fixes for a pool with two leaders.
func TestLeaderHubContract(t *testing.T) {
	np := pool("hangzhou",
		appsv1beta2.Leader{NodeName: "node-b", Address: "10.0.0.2"},
		appsv1beta2.Leader{NodeName: "node-a", Address: "10.0.0.1"})
	lh, invalid, err := project(np)
	if err != nil || len(invalid) != 0 {
		t.Fatalf("Project() err=%v invalid=%v", err, invalid)
	}
	got, _ := json.Marshal(wire(t, lh))
	want := `{"metadata":{"name":"leader-hub-hangzhou","namespace":"kube-system","uid":"uid-hangzhou",` +
		`"creationTimestamp":"2026-01-02T03:04:05Z",` +
		`"labels":{"app.kubernetes.io/managed-by":"leaderhub","openyurt.io/pool-name":"hangzhou"},` +
		`"annotations":{"openyurt.io/enable-leader-election":"true","openyurt.io/interconnectivity":"true",` +
		`"openyurt.io/pool-scoped-metadata":"/v1/services,discovery.k8s.io/v1/endpointslices"},` +
		`"ownerReferences":[{"apiVersion":"apps.openyurt.io/v1beta2","kind":"NodePool","name":"hangzhou","uid":"uid-hangzhou","controller":true}]},` +
		`"subsets":[{"addresses":[{"ip":"10.0.0.1","nodeName":"node-a"},{"ip":"10.0.0.2","nodeName":"node-b"}],` +
		`"ports":[{"name":"https","port":10269,"protocol":"TCP"}]}]}`
	if string(got) != want {
		t.Errorf("projection JSON:\n got %s\nwant %s", got, want)
	}
}

func TestLeaderHubCases(t *testing.T) {
	tests := []struct {
		name        string
		np          *appsv1beta2.NodePool
		wantErr     string
		wantLeaders string // node/ip,...
		wantInvalid []string
	}{
		{name: "no leaders gives no subsets", np: pool("p"), wantLeaders: ""},
		{name: "sorted by node name", np: pool("p",
			appsv1beta2.Leader{NodeName: "z", Address: "10.0.0.9"},
			appsv1beta2.Leader{NodeName: "a", Address: "10.0.0.1"},
			appsv1beta2.Leader{NodeName: "m", Address: "fd00::1"}),
			wantLeaders: "a/10.0.0.1,m/fd00::1,z/10.0.0.9"},
		{name: "invalid addresses are left out and reported", np: pool("p",
			appsv1beta2.Leader{NodeName: "a", Address: "not-an-ip"},
			appsv1beta2.Leader{NodeName: "b", Address: ""},
			appsv1beta2.Leader{NodeName: "c", Address: "127.0.0.1"},
			appsv1beta2.Leader{NodeName: "d", Address: "0.0.0.0"},
			appsv1beta2.Leader{NodeName: "e", Address: "169.254.1.1"},
			appsv1beta2.Leader{NodeName: "f", Address: "fe80::1%eth0"},
			appsv1beta2.Leader{NodeName: "g", Address: "239.1.1.1"},
			appsv1beta2.Leader{NodeName: "h", Address: "10.0.0.8"}),
			wantLeaders: "h/10.0.0.8",
			wantInvalid: []string{"not an IP", "empty", "loopback", "unspecified", "link-local", "zone", "multicast"}},
		{name: "invalid node names are left out", np: pool("p",
			appsv1beta2.Leader{NodeName: "", Address: "10.0.0.1"},
			appsv1beta2.Leader{NodeName: "Bad_Name", Address: "10.0.0.2"}),
			wantInvalid: []string{"nodeName is empty", "is invalid"}},
		{name: "exact duplicates collapse", np: pool("p",
			appsv1beta2.Leader{NodeName: "a", Address: "10.0.0.1"},
			appsv1beta2.Leader{NodeName: "a", Address: "10.0.0.1"},
			appsv1beta2.Leader{NodeName: "a", Address: "::ffff:10.0.0.1"}),
			wantLeaders: "a/10.0.0.1",
			wantInvalid: []string{"duplicate", "duplicate"}},
		{name: "pool name longest that fits a label", np: pool(strings.Repeat("p", 63)), wantLeaders: ""},
		{name: "pool name too long for the label", np: pool(strings.Repeat("p", 64)), wantErr: "label value"},
		{name: "pool name too long for the object name", np: pool(strings.Repeat("p", 250)), wantErr: "object name"},
		{name: "empty pool name", np: pool(""), wantErr: "no name"},
		{name: "pool-scoped metadata too large for annotations", np: func() *appsv1beta2.NodePool {
			np := pool("p")
			for i := 0; i < 3000; i++ {
				np.Spec.PoolScopeMetadata = append(np.Spec.PoolScopeMetadata,
					metav1.GroupVersionResource{Group: strings.Repeat("g", 80), Version: "v1", Resource: fmt.Sprintf("r%05d", i)})
			}
			return np
		}(), wantErr: "does not fit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lh, invalid, err := project(tc.np)
			if tc.wantErr != "" {
				var ue *UnpublishableError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || lh != nil || !errors.As(err, &ue) || ue.Reason == "" {
					t.Fatalf("err = %v, lh = %v; want an UnpublishableError containing %q and no object", err, lh, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := leadersOf(lh); got != tc.wantLeaders {
				t.Errorf("leaders = %q, want %q", got, tc.wantLeaders)
			}
			if tc.wantLeaders == "" && len(lh.Subsets) != 0 {
				t.Errorf("subsets = %v, want none", lh.Subsets)
			}
			if len(invalid) != len(tc.wantInvalid) {
				t.Fatalf("invalid = %v, want %d entries", invalid, len(tc.wantInvalid))
			}
			for i, want := range tc.wantInvalid {
				if !strings.Contains(invalid[i].Reason, want) {
					t.Errorf("invalid[%d] = %q, want it to mention %q", i, invalid[i], want)
				}
			}
		})
	}
}

func TestPoolScopedMetadata(t *testing.T) {
	tests := []struct {
		in   []metav1.GroupVersionResource
		want string
	}{
		{nil, ""},
		{[]metav1.GroupVersionResource{{Version: "v1", Resource: "services"}}, "/v1/services"},
		{[]metav1.GroupVersionResource{
			{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"},
			{Version: "v1", Resource: "services"},
			{Version: "v1", Resource: "services"},
		}, "/v1/services,discovery.k8s.io/v1/endpointslices"},
	}
	for _, tc := range tests {
		if got := PoolScopedMetadata(tc.in); got != tc.want {
			t.Errorf("PoolScopedMetadata(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzLeaderHub feeds arbitrary leaders and pool names: the projection never
// panics, is independent of input order, keeps only valid sorted leaders, and
// accounts for every input entry as kept, duplicate or invalid.
func FuzzLeaderHub(f *testing.F) {
	f.Add("hangzhou", "node-a", "10.0.0.1", "node-b", "fd00::2", "v1", "services")
	f.Add("p", "", "", "x", "not-an-ip", "", "")
	f.Add(strings.Repeat("p", 64), "a", "127.0.0.1", "a", "127.0.0.1", "g", "r")
	f.Add("p", "n", "::ffff:1.2.3.4", "n", "1.2.3.4", "apps", "deployments")
	f.Fuzz(func(t *testing.T, name, n1, a1, n2, a2, group, resource string) {
		leaders := []appsv1beta2.Leader{{NodeName: n1, Address: a1}, {NodeName: n2, Address: a2}, {NodeName: n1, Address: a2}}
		np := pool(name, leaders...)
		np.Spec.PoolScopeMetadata = append(np.Spec.PoolScopeMetadata, metav1.GroupVersionResource{Group: group, Version: "v1", Resource: resource})
		lh, invalid, err := project(np)
		if err != nil {
			if lh != nil {
				t.Fatal("an error must come without an object")
			}
			return
		}
		kept := 0
		if len(lh.Subsets) == 1 {
			kept = len(lh.Subsets[0].Addresses)
		} else if len(lh.Subsets) > 1 {
			t.Fatalf("more than one subset: %v", lh.Subsets)
		}
		if kept+len(invalid) != len(leaders) {
			t.Fatalf("kept %d + invalid %d != %d inputs", kept, len(invalid), len(leaders))
		}
		if kept > 0 {
			addrs := lh.Subsets[0].Addresses
			for i := 1; i < len(addrs); i++ {
				if *addrs[i-1].NodeName > *addrs[i].NodeName {
					t.Fatalf("leaders not sorted: %v", addrs)
				}
			}
		}
		shuffled := pool(name, leaders...)
		shuffled.Spec.PoolScopeMetadata = append([]metav1.GroupVersionResource(nil), np.Spec.PoolScopeMetadata...)
		rand.Shuffle(len(shuffled.Status.LeaderEndpoints), func(i, j int) {
			shuffled.Status.LeaderEndpoints[i], shuffled.Status.LeaderEndpoints[j] = shuffled.Status.LeaderEndpoints[j], shuffled.Status.LeaderEndpoints[i]
		})
		rand.Shuffle(len(shuffled.Spec.PoolScopeMetadata), func(i, j int) {
			shuffled.Spec.PoolScopeMetadata[i], shuffled.Spec.PoolScopeMetadata[j] = shuffled.Spec.PoolScopeMetadata[j], shuffled.Spec.PoolScopeMetadata[i]
		})
		again, _, err := project(shuffled)
		if err != nil || !apiequality.Semantic.DeepEqual(lh, again) {
			t.Fatalf("projection depends on input order:\n%v\n%v (err %v)", lh, again, err)
		}
		if lh.Name != v1alpha1.ObjectName(name) {
			t.Fatalf("name %q", lh.Name)
		}
	})
}

// TestMaterializedForms: Endpoints carry exactly the projection, and the
// ConfigMap data is what upstream's hubleaderconfig controller writes.
func TestMaterializedForms(t *testing.T) {
	np := pool("hangzhou",
		appsv1beta2.Leader{NodeName: "node1", Address: "10.0.0.1"},
		appsv1beta2.Leader{NodeName: "node-b", Address: "10.0.0.2"})
	p := mustProject(t, np)
	ep, _ := json.Marshal(p.Endpoints(opts))
	// Endpoints get their own uid and creationTimestamp from kube-apiserver.
	viewOnly := wire(t, p.LeaderHub(opts))
	viewOnly.UID, viewOnly.CreationTimestamp = "", metav1.Time{}
	view, _ := json.Marshal(viewOnly)
	if string(ep) != string(view) {
		t.Errorf("Endpoints JSON differs from the view:\n%s\n%s", ep, view)
	}
	cm := p.ConfigMap(opts)
	want := map[string]string{
		"leaders":                "node-b/10.0.0.2,node1/10.0.0.1", // string order, as upstream sorts
		"pool-scoped-metadata":   "/v1/services,discovery.k8s.io/v1/endpointslices",
		"interconnectivity":      "true",
		"enable-leader-election": "true",
	}
	if !reflect.DeepEqual(cm.Data, want) {
		t.Errorf("ConfigMap data = %v, want %v", cm.Data, want)
	}
	if cm.Labels[v1alpha1.LabelConfigMapName] != "leader-hub-hangzhou" || cm.Labels[v1alpha1.LabelManagedBy] != "leaderhub" {
		t.Errorf("ConfigMap labels = %v", cm.Labels)
	}
}

// TestPoolEqualSeesOnlyWhatIsPublished: status churn outside the projection
// leaves a Pool equal; every published input makes it differ.
func TestPoolEqualSeesOnlyWhatIsPublished(t *testing.T) {
	base := func() *appsv1beta2.NodePool {
		return pool("p", appsv1beta2.Leader{NodeName: "a", Address: "10.0.0.1"}, appsv1beta2.Leader{NodeName: "b", Address: "10.0.0.2"})
	}
	for _, tc := range []struct {
		name  string
		edit  func(np *appsv1beta2.NodePool)
		equal bool
	}{
		{"status counts and nodes", func(np *appsv1beta2.NodePool) {
			np.Status.ReadyNodeNum, np.Status.UnreadyNodeNum, np.Status.Nodes = 9, 4, []string{"x", "y", "z"}
		}, true},
		{"resourceVersion and managedFields", func(np *appsv1beta2.NodePool) {
			np.ResourceVersion, np.ManagedFields = "43", []metav1.ManagedFieldsEntry{{Manager: "x"}}
		}, true},
		{"leaders reordered", func(np *appsv1beta2.NodePool) {
			l := np.Status.LeaderEndpoints
			l[0], l[1] = l[1], l[0]
		}, true},
		{"a leader's address", func(np *appsv1beta2.NodePool) { np.Status.LeaderEndpoints[0].Address = "10.0.0.9" }, false},
		{"a leader removed", func(np *appsv1beta2.NodePool) { np.Status.LeaderEndpoints = np.Status.LeaderEndpoints[:1] }, false},
		{"interConnectivity", func(np *appsv1beta2.NodePool) { np.Spec.InterConnectivity = false }, false},
		{"enableLeaderElection", func(np *appsv1beta2.NodePool) { np.Spec.EnableLeaderElection = false }, false},
		{"poolScopeMetadata", func(np *appsv1beta2.NodePool) { np.Spec.PoolScopeMetadata = nil }, false},
		{"uid", func(np *appsv1beta2.NodePool) { np.UID = "other" }, false},
		{"creationTimestamp", func(np *appsv1beta2.NodePool) {
			np.CreationTimestamp = metav1.NewTime(np.CreationTimestamp.Add(time.Second))
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _, err := Project(base())
			if err != nil {
				t.Fatal(err)
			}
			np := base()
			tc.edit(np)
			after, _, err := Project(np)
			if err != nil {
				t.Fatal(err)
			}
			if got := before.Equal(&after); got != tc.equal {
				t.Errorf("Equal = %v, want %v", got, tc.equal)
			}
			// Pool equality and object equality agree.
			if got := apiequality.Semantic.DeepEqual(before.LeaderHub(opts), after.LeaderHub(opts)); got != tc.equal {
				t.Errorf("the LeaderHubs are equal: %v, want %v", got, tc.equal)
			}
		})
	}
}

// TestPoolScopedMetadataIsShared: pools with the same metadata list share one
// interned copy; a zero Pool has none.
func TestPoolScopedMetadataIsShared(t *testing.T) {
	a, _, _ := Project(pool("a"))
	b, _, _ := Project(pool("b"))
	if a.metadata != b.metadata {
		t.Error("two pools with the same poolScopeMetadata hold two copies")
	}
	if got, want := b.PoolScopedMetadata(), "/v1/services,discovery.k8s.io/v1/endpointslices"; got != want {
		t.Errorf("PoolScopedMetadata() = %q, want %q", got, want)
	}
	if got := (&Pool{}).PoolScopedMetadata(); got != "" {
		t.Errorf("zero Pool: %q", got)
	}
}

// TestPoolAccessors: what a Pool packs into one string comes back out whole,
// for pools with no leaders, IPv6 leaders, no uid and no timestamp.
func TestPoolAccessors(t *testing.T) {
	created := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	for _, tc := range []struct {
		name    string
		pool    Pool
		wantNm  string
		wantUID types.UID
		created metav1.Time
		leaders []Leader
	}{
		{"zero", Pool{}, "", "", metav1.Time{}, nil},
		{"named", NamedPool("p", "uid-p"), "p", "uid-p", metav1.Time{}, nil},
		{"no leaders", mustProject(t, pool("p")), "p", "uid-p", created, nil},
		{"leaders", mustProject(t, pool("pool-1",
			appsv1beta2.Leader{NodeName: "node-b.example", Address: "fd00::0:2"},
			appsv1beta2.Leader{NodeName: "node-a", Address: "::ffff:10.0.0.1"},
			appsv1beta2.Leader{NodeName: "node-a", Address: "10.0.0.3"})),
			"pool-1", "uid-pool-1", created,
			[]Leader{{"node-a", "10.0.0.1"}, {"node-a", "10.0.0.3"}, {"node-b.example", "fd00::2"}}},
		{"no uid or timestamp", mustProject(t, &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "bare"},
			Status: appsv1beta2.NodePoolStatus{LeaderEndpoints: []appsv1beta2.Leader{{NodeName: "n", Address: "10.1.1.1"}}}}),
			"bare", "", metav1.Time{}, []Leader{{"n", "10.1.1.1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.pool
			if p.Name() != tc.wantNm || p.UID() != tc.wantUID {
				t.Errorf("Name, UID = %q, %q; want %q, %q", p.Name(), p.UID(), tc.wantNm, tc.wantUID)
			}
			if got := p.CreationTimestamp(); !got.Equal(&tc.created) {
				t.Errorf("CreationTimestamp = %v, want %v", got, tc.created)
			}
			var got []Leader
			for l := range p.Leaders() {
				got = append(got, l)
			}
			if !reflect.DeepEqual(got, tc.leaders) || p.LeaderCount() != len(tc.leaders) {
				t.Errorf("Leaders = %v (count %d), want %v", got, p.LeaderCount(), tc.leaders)
			}
			pairs := make([]string, 0, len(tc.leaders))
			for _, l := range tc.leaders {
				pairs = append(pairs, l.NodeName+"/"+l.IP)
			}
			if want := strings.Join(pairs, ","); p.LeadersString() != want {
				t.Errorf("LeadersString = %q, want %q", p.LeadersString(), want)
			}
			if lh := p.LeaderHub(opts); leadersOf(lh) != p.LeadersString() {
				t.Errorf("the LeaderHub's leaders %q differ from the pool's %q", leadersOf(lh), p.LeadersString())
			}
		})
	}
}

func mustProject(t *testing.T, np *appsv1beta2.NodePool) Pool {
	t.Helper()
	p, _, err := Project(np)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOwnedKeysAreWhatTheFormsCarry: the owned label and annotation keys,
// declared once, are exactly the keys each form sets.
func TestOwnedKeysAreWhatTheFormsCarry(t *testing.T) {
	p := mustProject(t, pool("p", appsv1beta2.Leader{NodeName: "n", Address: "10.0.0.1"}))
	keys := func(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
	lh, ep, cm := p.LeaderHub(opts), p.Endpoints(opts), p.ConfigMap(opts)
	for _, tc := range []struct {
		form      string
		got, want []string
	}{
		{"LeaderHub labels", keys(lh.Labels), Labels},
		{"LeaderHub annotations", keys(lh.Annotations), Annotations},
		{"Endpoints labels", keys(ep.Labels), Labels},
		{"Endpoints annotations", keys(ep.Annotations), Annotations},
		{"ConfigMap labels", keys(cm.Labels), ConfigMapLabels},
		{"ConfigMap annotations", keys(cm.Annotations), nil},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.form, tc.got, tc.want)
		}
	}
}
