package storage

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/utils/ptr"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
	"github.com/leaderhub/leaderhub/pkg/election"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the LeaderHub: leader-hub-<pool>."},
	{Name: "Leaders", Type: "string", Description: "Leader YurtHubs as node/ip, sorted by node name."},
	{Name: "Ready", Type: "string", Priority: 1, Description: "Valid leaders / leaderReplicas, with election on: a leader is valid " +
		"when its Node exists, is in the pool, is Ready and has that InternalIP."},
	{Name: "InterConnectivity", Type: "string", Description: "Whether the pool's nodes reach each other (spec.interConnectivity)."},
	{Name: "Election", Type: "string", Description: "Whether leader election is enabled (spec.enableLeaderElection)."},
	{Name: "Age", Type: "string", Format: "date", Description: "Time since the NodePool was created."},
	{Name: "Pool-Scoped-Metadata", Type: "string", Priority: 1, Description: "Resources shared pool-wide, as group/version/resource."},
}

// ElectionReader says how a pool's hub-leader election stands: the
// election tracker.
type ElectionReader interface {
	Verdict(pool string) (election.Verdict, bool)
}

var _ ElectionReader = &election.Tracker{}

// tableConvertor renders leaderhubs for kubectl.
type tableConvertor struct {
	elections ElectionReader
}

// ConvertToTable renders one LeaderHub or a list of them.
func (tc tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: columns}
	switch t := obj.(type) {
	case *leaderhub.LeaderHub:
		table.ResourceVersion = t.ResourceVersion
		table.Rows = []metav1.TableRow{tc.row(t)}
	case *leaderhub.LeaderHubList:
		table.ResourceVersion, table.Continue = t.ResourceVersion, t.Continue
		table.Rows = make([]metav1.TableRow, 0, len(t.Items))
		for i := range t.Items {
			table.Rows = append(table.Rows, tc.row(&t.Items[i]))
		}
	default:
		return nil, fmt.Errorf("cannot render %T as a leaderhubs table", obj)
	}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.RemainingItemCount = m.GetRemainingItemCount()
	}
	return table, nil
}

func (tc tableConvertor) row(lh *leaderhub.LeaderHub) metav1.TableRow {
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
			cmp.Or(strings.Join(leaders, ","), none),
			tc.ready(lh.Labels[v1alpha1.LabelPoolName]),
			cmp.Or(lh.Annotations[v1alpha1.AnnotationInterConnectivity], none),
			cmp.Or(lh.Annotations[v1alpha1.AnnotationEnableLeaderElection], none),
			age(lh.CreationTimestamp),
			cmp.Or(lh.Annotations[v1alpha1.AnnotationPoolScopedMetadata], none),
		},
	}
}

// ready is the READY cell: valid/wanted, or <none> with election off
// (or before the Node cache has synced).
func (tc tableConvertor) ready(pool string) string {
	if tc.elections == nil {
		return none
	}
	v, ok := tc.elections.Verdict(pool)
	if !ok || !v.Enabled {
		return none
	}
	return fmt.Sprintf("%d/%d", v.Valid, v.Wanted)
}

// none is what kubectl shows for an empty cell.
const none = "<none>"

func age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(metav1.Now().Sub(t.Time))
}
