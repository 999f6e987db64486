package hubleader

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/election"
	"github.com/leaderhub/leaderhub/pkg/feed"
)

// fakeSource serves one pool and its members.
type fakeSource struct {
	feed.Listeners
	pool    *election.Pool
	members []election.Node
}

func (f *fakeSource) Started() bool { return true }
func (f *fakeSource) Pool(name string) (*election.Pool, bool) {
	return f.pool, f.pool != nil && f.pool.Name == name
}
func (f *fakeSource) PoolNames() []string            { return []string{f.pool.Name} }
func (f *fakeSource) Members(string) []election.Node { return f.members }
func (f *fakeSource) Node(name string) (*election.Node, bool) {
	n := inputs(f.members...).Node(name)
	return n, n != nil
}

// fakePatcher applies the elector's merge patches to the source's pool, as
// kube-apiserver would, and can answer Conflict.
type fakePatcher struct {
	src      *fakeSource
	rv       int
	patches  []map[string]interface{}
	conflict bool
}

func (f *fakePatcher) PatchStatus(_ context.Context, name string, patch []byte) (*appsv1beta2.NodePool, error) {
	var m map[string]interface{}
	if err := json.Unmarshal(patch, &m); err != nil {
		return nil, err
	}
	f.patches = append(f.patches, m)
	if f.conflict || m["metadata"].(map[string]interface{})["resourceVersion"] != f.src.pool.ResourceVersion {
		return nil, apierrors.NewConflict(schema.GroupResource{Group: "apps.openyurt.io", Resource: "nodepools"}, name, nil)
	}
	var status struct {
		Status appsv1beta2.NodePoolStatus `json:"status"`
	}
	if err := json.Unmarshal(patch, &status); err != nil {
		return nil, err
	}
	f.rv++
	p := *f.src.pool
	p.ResourceVersion = strconv.Itoa(f.rv)
	p.Leaders, p.Conditions = status.Status.LeaderEndpoints, status.Status.Conditions
	f.src.pool = &p
	return &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: p.ResourceVersion}}, nil
}

func TestSync(t *testing.T) {
	ctx := context.Background()
	p := pool(1)
	p.ResourceVersion = "10"
	src := &fakeSource{pool: p, members: []election.Node{member("n1", true, "10.0.0.1"), member("n2", true, "10.0.0.2")}}
	patcher := &fakePatcher{src: src, rv: 10}
	events := record.NewFakeRecorder(10)
	c := New(src, patcher, events, Options{Clock: clocktesting.NewFakeClock(now)})

	if _, err := c.Sync(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if len(patcher.patches) != 1 {
		t.Fatalf("%d writes, want 1", len(patcher.patches))
	}
	status := patcher.patches[0]["status"].(map[string]interface{})
	for _, key := range []string{"leaderEndpoints", "leaderNum", "leaderLastElectedTime", "conditions"} {
		if _, ok := status[key]; !ok {
			t.Errorf("patch lacks status.%s: %v", key, status)
		}
	}
	if _, ok := status["nodes"]; ok || len(status) != 4 {
		t.Errorf("patch touches other status fields: %v", status)
	}
	if ev := <-events.Events; !strings.Contains(ev, EventLeaderElected) {
		t.Errorf("event %q", ev)
	}
	cond := src.pool.Condition(appsv1beta2.LeaderStatus)
	if cond == nil || cond.Reason != ReasonLeadersElected || cond.LastTransitionTime.IsZero() {
		t.Fatalf("condition %+v", cond)
	}

	// Nothing changed: no write.
	if _, err := c.Sync(ctx, "p"); err != nil || len(patcher.patches) != 1 {
		t.Fatalf("unchanged pool: %d writes, %v", len(patcher.patches), err)
	}

	// The cache still holds the pool from before the elector's write: it
	// waits for its own write to arrive instead of writing from old data.
	written := src.pool
	src.pool = p
	if _, err := c.Sync(ctx, "p"); err != nil || len(patcher.patches) != 1 {
		t.Fatalf("behind: %d writes, %v", len(patcher.patches), err)
	}
	src.pool = written

	// A Conflict is returned as one, for the queue to retry.
	src.members[0].Ready, src.members[1].Ready = false, false
	patcher.conflict = true
	if _, err := c.Sync(ctx, "p"); !apierrors.IsConflict(err) {
		t.Fatalf("conflict: %v", err)
	}
	patcher.conflict = false
	if _, err := c.Sync(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if cond := src.pool.Condition(appsv1beta2.LeaderStatus); cond.Reason != ReasonNoCandidates || len(src.pool.Leaders) != 0 {
		t.Errorf("no candidates: %+v, leaders %v", cond, src.pool.Leaders)
	}
	var sawWarning bool
	for len(events.Events) > 0 {
		if ev := <-events.Events; strings.HasPrefix(ev, "Warning "+EventNoCandidates) {
			sawWarning = true
		}
	}
	if !sawWarning {
		t.Error("no NoCandidates Warning")
	}
}

// TestSyncLeavesPoolsWithoutElection: a pool that never had election gets
// no write at all.
func TestSyncLeavesPoolsWithoutElection(t *testing.T) {
	p := pool(1)
	p.Enabled, p.ResourceVersion = false, "5"
	src := &fakeSource{pool: p, members: []election.Node{member("n1", true, "10.0.0.1")}}
	patcher := &fakePatcher{src: src, rv: 5}
	c := New(src, patcher, record.NewFakeRecorder(10), Options{})
	if _, err := c.Sync(context.Background(), "p"); err != nil || len(patcher.patches) != 0 {
		t.Errorf("%d writes, %v", len(patcher.patches), err)
	}
}
