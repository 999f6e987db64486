package storage

import (
	"context"
	"strings"
	"testing"
	"time"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/utils/ptr"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
	"github.com/leaderhub/leaderhub/pkg/election"
)

func leaderHub(name string, leaders ...string) *leaderhub.LeaderHub {
	lh := &leaderhub.LeaderHub{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "7",
		Labels:            map[string]string{v1alpha1.LabelPoolName: strings.TrimPrefix(name, v1alpha1.NamePrefix)},
		CreationTimestamp: metav1.NewTime(time.Now().Add(-90 * time.Minute)),
		Annotations: map[string]string{v1alpha1.AnnotationInterConnectivity: "true", v1alpha1.AnnotationEnableLeaderElection: "false",
			v1alpha1.AnnotationPoolScopedMetadata: "/v1/services"}}}
	if len(leaders) > 0 {
		s := leaderhub.LeaderHubSubset{}
		for _, l := range leaders {
			node, ip, _ := strings.Cut(l, "/")
			s.Addresses = append(s.Addresses, leaderhub.LeaderHubAddress{IP: ip, NodeName: ptr.To(node)})
		}
		lh.Subsets = []leaderhub.LeaderHubSubset{s}
	}
	return lh
}

// fakeElections answers the READY column from a map.
type fakeElections map[string]election.Verdict

func (f fakeElections) Verdict(pool string) (election.Verdict, bool) {
	v, ok := f[pool]
	return v, ok
}

// columnsOfPriority are the names of a table's columns of one priority,
// comma-joined in order.
func columnsOfPriority(table *metav1.Table, priority int32) string {
	var names []string
	for _, c := range table.ColumnDefinitions {
		if c.Priority == priority {
			names = append(names, c.Name)
		}
	}
	return strings.Join(names, ",")
}

// TestTable: kubectl's columns, one row per object, "<none>" for what is
// missing, READY and POOL-SCOPED-METADATA only in -o wide (priority 1).
func TestTable(t *testing.T) {
	tc := tableConvertor{elections: fakeElections{
		"a":    {Enabled: true, Wanted: 3, Published: 3, Valid: 2, Stale: 1, Eligible: 5},
		"bare": {}, // election off
	}}
	list := &leaderhub.LeaderHubList{ListMeta: metav1.ListMeta{ResourceVersion: "9"},
		Items: []leaderhub.LeaderHub{*leaderHub("leader-hub-a", "n1/10.0.0.1", "n2/fd00::2"), {ObjectMeta: metav1.ObjectMeta{Name: "leader-hub-bare"}}}}
	table, err := tc.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := columnsOfPriority(table, 0); got != "Name,Leaders,InterConnectivity,Election,Age" {
		t.Errorf("default columns %s", got)
	}
	if got := columnsOfPriority(table, 1); got != "Ready,Pool-Scoped-Metadata" {
		t.Errorf("wide columns %s", got)
	}
	if table.ResourceVersion != "9" || len(table.Rows) != 2 {
		t.Fatalf("table rv %q, %d rows", table.ResourceVersion, len(table.Rows))
	}
	want := [][]interface{}{
		{"leader-hub-a", "n1/10.0.0.1,n2/fd00::2", "2/3", "true", "false", "90m", "/v1/services"},
		{"leader-hub-bare", "<none>", "<none>", "<none>", "<none>", "<unknown>", "<none>"},
	}
	for i, row := range table.Rows {
		for j, cell := range row.Cells {
			if cell != want[i][j] {
				t.Errorf("row %d cell %d = %v, want %v", i, j, cell, want[i][j])
			}
		}
		if row.Object.Object == nil {
			t.Errorf("row %d carries no object", i)
		}
	}
	one, err := tc.ConvertToTable(context.Background(), leaderHub("leader-hub-one"), nil)
	if err != nil || len(one.Rows) != 1 || one.ResourceVersion != "7" {
		t.Errorf("single object: %+v, %v", one, err)
	}
	if _, err := tc.ConvertToTable(context.Background(), &metav1.Status{}, nil); err == nil {
		t.Error("a Status rendered as a leaderhubs table")
	}
}

// fakeView records what the REST storage asks of the view.
type fakeView struct{ namespace, name string }

func (f *fakeView) Get(_ context.Context, namespace, name string) (*leaderhub.LeaderHub, error) {
	f.namespace, f.name = namespace, name
	return leaderHub(name), nil
}

func (f *fakeView) List(_ context.Context, namespace string, _ *metainternalversion.ListOptions) (*leaderhub.LeaderHubList, error) {
	f.namespace = namespace
	return &leaderhub.LeaderHubList{}, nil
}

func (f *fakeView) Watch(_ context.Context, namespace string, _ *metainternalversion.ListOptions) (watch.Interface, error) {
	f.namespace = namespace
	return watch.NewEmptyWatch(), nil
}

// TestREST: the storage passes the request's namespace to the view, and
// names the resource as the contract does.
func TestREST(t *testing.T) {
	view := &fakeView{}
	r := NewREST(view, nil)
	ctx := genericapirequest.WithNamespace(context.Background(), "kube-system")
	if obj, err := r.Get(ctx, "leader-hub-a", &metav1.GetOptions{}); err != nil || obj.(*leaderhub.LeaderHub).Name != "leader-hub-a" ||
		view.namespace != "kube-system" || view.name != "leader-hub-a" {
		t.Errorf("Get: %v %v, view asked for %s/%s", obj, err, view.namespace, view.name)
	}
	if _, err := r.List(genericapirequest.WithNamespace(context.Background(), "other"), nil); err != nil || view.namespace != "other" {
		t.Errorf("List: %v, view asked for namespace %q", err, view.namespace)
	}
	if w, err := r.Watch(genericapirequest.WithNamespace(context.Background(), ""), nil); err != nil || view.namespace != "" {
		t.Errorf("Watch: %v, view asked for namespace %q", err, view.namespace)
	} else {
		w.Stop()
	}
	if !r.NamespaceScoped() || r.GetSingularName() != "leaderhub" || strings.Join(r.ShortNames(), ",") != "lh" ||
		strings.Join(r.Categories(), ",") != "yurt" {
		t.Errorf("names: scoped %t, %q, %v, %v", r.NamespaceScoped(), r.GetSingularName(), r.ShortNames(), r.Categories())
	}
	if gvk := r.GroupVersionKind(schema.GroupVersion{}); gvk != v1alpha1.SchemeGroupVersion.WithKind("LeaderHub") {
		t.Errorf("GroupVersionKind = %v", gvk)
	}
	if _, ok := r.New().(*leaderhub.LeaderHub); !ok {
		t.Errorf("New() = %T", r.New())
	}
	if _, ok := r.NewList().(*leaderhub.LeaderHubList); !ok {
		t.Errorf("NewList() = %T", r.NewList())
	}
}
