package storage

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/utils/ptr"

	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the LeaderHub: leader-hub-<pool>."},
	{Name: "Leaders", Type: "string", Description: "Leader YurtHubs as node/ip, sorted by node name."},
	{Name: "InterConnectivity", Type: "string", Description: "Whether the pool's nodes reach each other (spec.interConnectivity)."},
	{Name: "Election", Type: "string", Description: "Whether leader election is enabled (spec.enableLeaderElection)."},
	{Name: "Age", Type: "string", Format: "date", Description: "Time since the NodePool was created."},
	{Name: "Pool-Scoped-Metadata", Type: "string", Priority: 1, Description: "Resources shared pool-wide, as group/version/resource."},
}

// tableConvertor renders leaderhubs for kubectl.
type tableConvertor struct{}

// ConvertToTable renders one LeaderHub or a list of them.
func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: columns}
	switch t := obj.(type) {
	case *leaderhub.LeaderHub:
		table.ResourceVersion = t.ResourceVersion
		table.Rows = []metav1.TableRow{row(t)}
	case *leaderhub.LeaderHubList:
		table.ResourceVersion, table.Continue = t.ResourceVersion, t.Continue
		table.Rows = make([]metav1.TableRow, 0, len(t.Items))
		for i := range t.Items {
			table.Rows = append(table.Rows, row(&t.Items[i]))
		}
	default:
		return nil, fmt.Errorf("cannot render %T as a leaderhubs table", obj)
	}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.RemainingItemCount = m.GetRemainingItemCount()
	}
	return table, nil
}

func row(lh *leaderhub.LeaderHub) metav1.TableRow {
	var leaders []string
	for _, s := range lh.Subsets {
		for _, a := range s.Addresses {
			leaders = append(leaders, ptr.Deref(a.NodeName, "")+"/"+a.IP)
		}
	}
	return metav1.TableRow{
		Object: runtime.RawExtension{Object: lh},
		Cells: []interface{}{
			lh.Name,
			orNone(strings.Join(leaders, ",")),
			orNone(lh.Annotations[v1alpha1.AnnotationInterConnectivity]),
			orNone(lh.Annotations[v1alpha1.AnnotationEnableLeaderElection]),
			age(lh.CreationTimestamp),
			orNone(lh.Annotations[v1alpha1.AnnotationPoolScopedMetadata]),
		},
	}
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(metav1.Now().Sub(t.Time))
}
