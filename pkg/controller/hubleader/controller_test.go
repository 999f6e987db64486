package hubleader

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/testutil"
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
	return &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: name, UID: p.UID, ResourceVersion: p.ResourceVersion}}, nil
}

func TestSync(t *testing.T) {
	ctx := context.Background()
	p := pool(1)
	p.ResourceVersion = "10"
	// n3 cannot lead (no InternalIP) but keeps the pool from counting as
	// cut off when n1 and n2 go NotReady.
	src := &fakeSource{pool: p, members: []election.Node{member("n1", true, "10.0.0.1"), member("n2", true, "10.0.0.2"), member("n3", true)}}
	patcher := &fakePatcher{src: src, rv: 10}
	events := record.NewFakeRecorder(10)
	c := New(src, patcher, events, Options{Clock: clocktesting.NewFakeClock(now), Policy: election.Policy{DisruptionThreshold: 1}})

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

// TestSyncTellsForeignWritersOnly: the elector warns of another writer only
// when one changed the leaders since its own last write in this lease term:
// not after another replica held the lease, not for a pool deleted and
// created again under the same name.
func TestSyncTellsForeignWritersOnly(t *testing.T) {
	ctx := context.Background()
	p := pool(1)
	p.ResourceVersion = "10"
	src := &fakeSource{pool: p, members: []election.Node{member("n1", true, "10.0.0.1"), member("n2", true, "10.0.0.2"), member("n3", true)}}
	patcher := &fakePatcher{src: src, rv: 10}
	c := New(src, patcher, record.NewFakeRecorder(100), Options{Clock: clocktesting.NewFakeClock(now)})
	c.RegisterMetrics(metrics.NewKubeRegistry())
	foreign := func() float64 {
		t.Helper()
		v, err := testutil.GetCounterMetricValue(c.metrics.foreignWrites)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if _, err := c.Sync(ctx, "p"); err != nil || len(patcher.patches) != 1 {
		t.Fatalf("first election: %d writes, %v", len(patcher.patches), err)
	}
	otherLeaders := func(rv int, uid types.UID, leaders ...string) {
		next := *src.pool
		next.UID, next.ResourceVersion = uid, strconv.Itoa(rv)
		next.Leaders = leadersOf(leaders...)
		src.pool, patcher.rv = &next, rv
	}

	// Another replica held the lease and wrote other leaders; this one
	// runs again.
	otherLeaders(20, src.pool.UID, "n3=10.0.0.3")
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	c.Run(canceled)
	if _, err := c.Sync(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if got := foreign(); got != 0 {
		t.Errorf("after a lease handover: %v foreign writes reported, want 0", got)
	}

	// The pool is deleted and created again (a new uid) without the
	// elector seeing the deletion.
	otherLeaders(30, "uid-p-again", "n3=10.0.0.3")
	if _, err := c.Sync(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if got := foreign(); got != 0 {
		t.Errorf("after the pool was created again: %v foreign writes reported, want 0", got)
	}

	// A real other writer, after this elector's own write.
	otherLeaders(40, src.pool.UID, "n1=10.0.0.1", "n2=10.0.0.2")
	if _, err := c.Sync(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if got := foreign(); got != 1 {
		t.Errorf("another writer: %v foreign writes reported, want 1", got)
	}
}

// fourNodePool is a pool of four Ready Nodes, n1 its leader, and a patcher
// that writes to it.
func fourNodePool() (*fakeSource, *fakePatcher) {
	p := pool(1, "n1")
	p.ResourceVersion = "10"
	var members []election.Node
	for i := 1; i <= 4; i++ {
		members = append(members, member(fmt.Sprintf("n%d", i), true, fmt.Sprintf("10.0.0.%d", i)))
	}
	src := &fakeSource{pool: p, members: members}
	return src, &fakePatcher{src: src, rv: 10}
}

// TestSyncOutageEvents: a pool that loses its cloud link gets one Warning
// when its outage starts and one Normal Event when it ends, however many
// Nodes change meanwhile.
func TestSyncOutageEvents(t *testing.T) {
	ctx := context.Background()
	src, patcher := fourNodePool()
	events := record.NewFakeRecorder(100)
	clock := clocktesting.NewFakeClock(now)
	c := New(src, patcher, events, Options{Clock: clock})
	sync := func() {
		t.Helper()
		if _, err := c.Sync(ctx, "p"); err != nil {
			t.Fatal(err)
		}
	}
	sync()
	setReady := func(i int, ready bool) {
		clock.Step(time.Second)
		src.members[i].Ready, src.members[i].ReadySince = ready, clock.Now()
		sync()
	}
	// The leader, n1, is the last to go.
	for i := len(src.members) - 1; i >= 0; i-- {
		setReady(i, false)
	}
	if got := src.pool.Condition(appsv1beta2.LeaderStatus); got.Status != corev1.ConditionUnknown || got.Reason != ReasonPoolUnreachable {
		t.Errorf("during the outage: %+v", got)
	}
	for i := range src.members {
		setReady(i, true)
	}
	if got := names(src.pool.Leaders); !slices.Equal(got, []string{"n1"}) {
		t.Errorf("leaders %v after the outage, want n1", got)
	}
	counts := map[string]int{}
	for len(events.Events) > 0 {
		ev := <-events.Events
		for _, reason := range []string{EventPoolUnreachable, EventPoolReachable, EventLeaderReplaced, EventLeaderElected} {
			if strings.Contains(ev, " "+reason+" ") {
				counts[reason]++
			}
		}
	}
	if counts[EventPoolUnreachable] != 1 || counts[EventPoolReachable] != 1 || counts[EventLeaderReplaced] != 0 {
		t.Errorf("Events %v, want one PoolUnreachable, one PoolReachable and no LeaderReplaced", counts)
	}
	if len(patcher.patches) > 4 {
		t.Errorf("%d status writes for one outage; want at most 4 (the condition's changes)", len(patcher.patches))
	}
}

// TestSyncSettles: a leader marked NotReady first among Nodes that lose
// their link together is not replaced before the others are marked too,
// and then it is kept; a leader that goes NotReady alone is replaced once
// Settle has passed.
func TestSyncSettles(t *testing.T) {
	ctx := context.Background()
	src, patcher := fourNodePool()
	clock := clocktesting.NewFakeClock(now)
	c := New(src, patcher, record.NewFakeRecorder(100), Options{Clock: clock, Settle: 300 * time.Millisecond})
	sync := func() time.Duration {
		t.Helper()
		recheck, err := c.Sync(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		return recheck
	}
	sync()
	writes := len(patcher.patches)
	setReady := func(ready bool, nodes ...int) {
		for _, i := range nodes {
			src.members[i].Ready, src.members[i].ReadySince = ready, clock.Now()
		}
	}
	setReady(false, 0)
	if recheck := sync(); recheck != 300*time.Millisecond || len(patcher.patches) != writes {
		t.Fatalf("leader NotReady: recheck %v, %d writes; want to wait 300ms and write nothing", recheck, len(patcher.patches)-writes)
	}
	clock.Step(100 * time.Millisecond)
	setReady(false, 1, 2)
	sync()
	if got := names(src.pool.Leaders); !slices.Equal(got, []string{"n1"}) {
		t.Errorf("the pool was cut off while the elector waited; leaders %v, want n1", got)
	}
	// Back, then the leader alone goes NotReady: replaced after 300ms.
	clock.Step(time.Hour)
	setReady(true, 0, 1, 2)
	sync()
	clock.Step(time.Hour)
	setReady(false, 0)
	if recheck := sync(); recheck != 300*time.Millisecond {
		t.Fatalf("recheck %v, want 300ms", recheck)
	}
	clock.Step(300 * time.Millisecond)
	if recheck := sync(); recheck != 0 || slices.Contains(names(src.pool.Leaders), "n1") {
		t.Errorf("after settling: recheck %v, leaders %v; want n1 replaced", recheck, names(src.pool.Leaders))
	}
}
