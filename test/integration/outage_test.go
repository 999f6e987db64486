package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/controller/hubleader"
	"github.com/leaderhub/leaderhub/test/framework"
)

// electionCounts are one replica's election counters.
type electionCounts struct {
	succeeded, failed, noCandidates, durations, leaderChanges float64
}

func (e *clusterEnv) electionCounts(t *testing.T, lh *framework.LeaderHub) electionCounts {
	t.Helper()
	page := scrapeFrom(t, e.cp, lh)
	return electionCounts{
		succeeded:     seriesValue(t, page, `leaderhub_elections_total{result="succeeded"}`),
		failed:        seriesValue(t, page, `leaderhub_elections_total{result="failed"}`),
		noCandidates:  seriesValue(t, page, `leaderhub_elections_total{result="no_candidates"}`),
		durations:     seriesValue(t, page, `leaderhub_election_duration_seconds_count`),
		leaderChanges: seriesValue(t, page, `leaderhub_leader_changes_total`),
	}
}

func (c electionCounts) minus(d electionCounts) electionCounts {
	return electionCounts{c.succeeded - d.succeeded, c.failed - d.failed, c.noCandidates - d.noCandidates,
		c.durations - d.durations, c.leaderChanges - d.leaderChanges}
}

// outagePool is a pool of Nodes the test takes down and brings back.
type outagePool struct {
	e       *clusterEnv
	name    string
	nodes   []string
	leaders []string
}

func (e *clusterEnv) newOutagePool(t *testing.T, name string, size int, replicas int32, subnet int) *outagePool {
	t.Helper()
	p := &outagePool{e: e, name: name}
	for i := 1; i <= size; i++ {
		p.nodes = append(p.nodes, fmt.Sprintf("%s-%d", name, i))
		e.createNode(t, p.nodes[i-1], name, fmt.Sprintf("10.%d.0.%d", subnet, i), nil)
	}
	e.createElectionPool(t, name, appsv1beta2.ElectionStrategyRandom, replicas, nil)
	np := e.waitPool(t, name, "elected", hasReason(hubleader.ReasonLeadersElected))
	p.leaders = leaderNodes(np)
	return p
}

// followers are the pool's Nodes that do not lead it.
func (p *outagePool) followers() []string {
	return slices.DeleteFunc(slices.Clone(p.nodes), func(n string) bool { return slices.Contains(p.leaders, n) })
}

// cutOff marks every Node NotReady at once, as the node lifecycle
// controller marks the Nodes of one monitor pass (in parallel), and waits
// for LeaderReady Unknown (PoolUnreachable).
func (p *outagePool) cutOff(t *testing.T) {
	t.Helper()
	ctx := testContext(t, 30*time.Second)
	errs := make(chan error, len(p.nodes))
	for _, name := range p.nodes {
		go func() {
			errs <- retry.RetryOnConflict(retry.DefaultRetry, func() error {
				n, err := p.e.kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				c := &n.Status.Conditions[0]
				c.Status, c.LastHeartbeatTime, c.LastTransitionTime = corev1.ConditionFalse, metav1.Now(), metav1.Now()
				_, err = p.e.kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
				return err
			})
		}()
	}
	for range p.nodes {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	np := p.e.waitPool(t, p.name, "PoolUnreachable", func(np *appsv1beta2.NodePool) bool {
		c := leaderReady(np)
		return c != nil && c.Status == corev1.ConditionUnknown && c.Reason == hubleader.ReasonPoolUnreachable
	})
	p.sameLeaders(t, np, "cut off")
}

// recover brings the Nodes back one at a time, a second apart (the
// condition's times hold whole seconds), the leaders last, and waits for
// LeaderReady True.
func (p *outagePool) recover(t *testing.T) {
	t.Helper()
	for _, n := range append(p.followers(), p.leaders...) {
		time.Sleep(time.Second)
		p.e.setReady(t, n, true)
	}
	np := p.e.waitPool(t, p.name, "LeadersElected after the outage", hasReason(hubleader.ReasonLeadersElected))
	p.sameLeaders(t, np, "after the outage")
}

func (p *outagePool) sameLeaders(t *testing.T, np *appsv1beta2.NodePool, when string) {
	t.Helper()
	if got := leaderNodes(np); !slices.Equal(got, p.leaders) {
		t.Errorf("%s: leaders %v, want %v unchanged", when, got, p.leaders)
	}
}

// testPoolOutages: pools that lose their cloud link keep their leaders
// through the outage and a staggered recovery, with LeaderReady Unknown
// meanwhile, one Event at each end and no election counted; a partial
// outage still replaces the leader it takes; a single-node pool; an outage
// across an elector restart. Two replicas count the same elections.
func (e *clusterEnv) testPoolOutages(t *testing.T) {
	second, err := e.cp.StartLeaderHub(testContext(t, time.Minute), framework.LeaderHubOptions{Name: "leaderhub-election-view-2",
		Args: []string{"--controllers=-materialize", "--election-deadline=" + electionDeadline.String()}})
	if err != nil {
		t.Fatal(err)
	}
	framework.StopOnCleanup(t, second.Process, 10*time.Second)
	replicas := map[string]*framework.LeaderHub{"first": e.view, "second": second}
	before := map[string]electionCounts{}
	for name, lh := range replicas {
		before[name] = e.electionCounts(t, lh)
	}
	elector := e.startElector(t, "leaderhub-elector-outage", "")

	p := e.newOutagePool(t, "outage", 6, 2, 34)
	solo := e.newOutagePool(t, "solo", 1, 1, 35)
	// The two elections of the pools' creation: counted, then a baseline.
	for name, lh := range replicas {
		e.waitMetric(t, lh, `leaderhub_elections_total{result="succeeded"}`, before[name].succeeded+2)
	}
	base := map[string]electionCounts{}
	for name, lh := range replicas {
		base[name] = e.electionCounts(t, lh)
	}

	// The whole pool loses its link, then comes back, the leaders last.
	p.cutOff(t)
	for _, lh := range replicas {
		e.waitMetric(t, lh, `leaderhub_election_pools{state="unreachable"}`, 1)
	}
	ev := e.waitEvent(t, p.name, corev1.EventTypeWarning, hubleader.EventPoolUnreachable)
	if !strings.Contains(ev.Message, "lost its cloud link") {
		t.Errorf("PoolUnreachable Event: %q", ev.Message)
	}
	p.recover(t)
	e.waitEvent(t, p.name, corev1.EventTypeNormal, hubleader.EventPoolReachable)
	for _, lh := range replicas {
		e.waitMetric(t, lh, `leaderhub_election_pools{state="unreachable"}`, 0)
	}

	// A single-node pool whose Node goes NotReady is cut off too.
	solo.cutOff(t)
	solo.recover(t)

	// An outage across an elector restart: the new elector judges the
	// pool from the API and keeps its leaders too.
	p.cutOff(t)
	if err := elector.Process.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	elector = e.startElector(t, "leaderhub-elector-outage-2", "")
	// The new elector has judged every pool once it has synced as many as
	// there are.
	pools, err := e.pools.AppsV1beta2().NodePools().List(testContext(t, 10*time.Second), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(testContext(t, 30*time.Second), 100*time.Millisecond, 20*time.Second, true,
		func(context.Context) (bool, error) {
			return sumSeries(t, scrapeFrom(t, e.cp, elector), "leaderhub_hubleader_syncs_total") >= float64(len(pools.Items)), nil
		}); err != nil {
		t.Fatal("the restarted elector did not sync every pool")
	}
	p.sameLeaders(t, e.waitPool(t, p.name, "read", func(*appsv1beta2.NodePool) bool { return true }), "after the elector's restart")
	p.recover(t)

	for name, lh := range replicas {
		if d := e.electionCounts(t, lh).minus(base[name]); d != (electionCounts{}) {
			t.Errorf("%s replica: three outages counted %+v; want nothing counted and no leader change", name, d)
		}
	}

	// A partial outage, 2 of 6 NotReady, takes a leader: replaced.
	start := time.Now()
	e.setReady(t, p.leaders[0], false)
	e.setReady(t, p.followers()[0], false)
	np := e.waitPool(t, p.name, "replaced the NotReady leader", func(np *appsv1beta2.NodePool) bool {
		return !slices.Contains(leaderNodes(np), p.leaders[0]) && len(np.Status.LeaderEndpoints) == 2
	})
	t.Logf("partial outage (2 of 6 NotReady): the NotReady leader replaced %v after it went NotReady (leaders %v → %v)",
		time.Since(start), p.leaders, leaderNodes(np))
	want := electionCounts{succeeded: 1, durations: 1, leaderChanges: 1}
	for name, lh := range replicas {
		var got electionCounts
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if got = e.electionCounts(t, lh).minus(base[name]); got == want {
				break
			}
		}
		if got != want {
			t.Errorf("%s replica: a partial outage counted %+v, want %+v", name, got, want)
		}
	}
	if elector.Process.Exited() {
		t.Fatal("the elector exited")
	}
}
