package integration

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/client/generated/clientset/versioned"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/controller/hubleader"
	openyurtclient "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned"
	"github.com/leaderhub/leaderhub/test/fixtures"
	"github.com/leaderhub/leaderhub/test/framework"
)

// clusterEnv is a control plane of its own, for tests that must count
// everything that happens in it (the election metrics) or break it (the
// edge client's): every leaderhub in it runs with the chart's RBAC for its
// flags, and one serving the view is registered with the aggregation layer.
type clusterEnv struct {
	cp    *framework.ControlPlane
	kube  kubernetes.Interface
	pools openyurtclient.Interface
	view  *framework.LeaderHub
	lh    versioned.Interface
}

// electionDeadline is the view's --election-deadline: long enough that a
// leader the test writes by hand, a few requests after the election
// started, ends it in time on a loaded machine; the failure case waits it
// out.
const electionDeadline = 15 * time.Second

func startClusterEnv(t *testing.T, viewName string, viewArgs ...string) *clusterEnv {
	t.Helper()
	ctx := testContext(t, 3*time.Minute)
	cp := startOwnControlPlane(t, ctx, framework.Options{})
	if err := cp.InstallCRDs(ctx); err != nil {
		t.Fatal(err)
	}
	cfg, err := cp.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	// Above client-go's default of 5 requests per second, which would time
	// the client's throttling instead of the system.
	cfg.QPS, cfg.Burst = 500, 1000
	e := &clusterEnv{cp: cp, kube: kubernetes.NewForConfigOrDie(cfg), pools: openyurtclient.NewForConfigOrDie(cfg),
		lh: versioned.NewForConfigOrDie(cfg)}
	e.view, err = cp.StartLeaderHub(ctx, framework.LeaderHubOptions{Name: viewName, Args: viewArgs})
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.RegisterAPIService(ctx, e.view); err != nil {
		t.Fatal(err)
	}
	return e
}

// startElector runs a leaderhub with only the hubleader elector, under a
// lease of its own, as a service account holding what the chart grants the
// elector (through kubeconfig, if set), with extra flags.
func (e *clusterEnv) startElector(t *testing.T, name, kubeconfig string, args ...string) *framework.LeaderHub {
	t.Helper()
	lh, err := e.cp.StartLeaderHub(testContext(t, time.Minute), framework.LeaderHubOptions{Name: name, Kubeconfig: kubeconfig,
		Args: append([]string{"--controllers=hubleader", "--leader-elect-resource-name=leaderhub-elector-test",
			"--leader-elect-retry-period=500ms", "--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s"}, args...)})
	if err != nil {
		t.Fatal(err)
	}
	framework.StopOnCleanup(t, lh.Process, 10*time.Second)
	return lh
}

// stopAPIServer stops the cluster's kube-apiserver, for an outage, and
// returns what starts it again; if the test ends first, a cleanup does.
func (e *clusterEnv) stopAPIServer(t *testing.T) (start func()) {
	t.Helper()
	if err := e.cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	up := false
	t.Cleanup(func() {
		if !up {
			_ = e.cp.StartAPIServer()
		}
	})
	return func() {
		t.Helper()
		if err := e.cp.StartAPIServer(); err != nil {
			t.Fatal(err)
		}
		up = true
	}
}

// createNode creates a Node in a pool and sets its Ready condition and
// InternalIP through the status subresource, as a kubelet would.
func (e *clusterEnv) createNode(t *testing.T, name, pool, ip string, labels map[string]string) {
	t.Helper()
	if _, err := framework.CreateNode(testContext(t, 10*time.Second), e.kube,
		fixtures.WithLabels(fixtures.Node(name, pool, true, ip), labels)); err != nil {
		t.Fatal(err)
	}
}

// updateNode changes a Node through its status subresource (or, with
// labels set, the object) and returns when it is written.
func (e *clusterEnv) updateNode(t *testing.T, name string, change func(*corev1.Node)) {
	t.Helper()
	ctx := testContext(t, 10*time.Second)
	nodes := e.kube.CoreV1().Nodes()
	n, err := nodes.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	labels := maps.Clone(n.Labels)
	change(n)
	if !maps.Equal(labels, n.Labels) {
		if _, err := nodes.Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *clusterEnv) setReady(t *testing.T, name string, ready bool) {
	t.Helper()
	e.updateNode(t, name, func(n *corev1.Node) {
		c := &n.Status.Conditions[0]
		c.Status, c.LastHeartbeatTime, c.LastTransitionTime = corev1.ConditionFalse, metav1.Now(), metav1.Now()
		if ready {
			c.Status = corev1.ConditionTrue
		}
	})
}

// createElectionPool creates a NodePool with election on.
func (e *clusterEnv) createElectionPool(t *testing.T, name string, strategy appsv1beta2.LeaderElectionStrategy, replicas int32,
	selector map[string]string) *appsv1beta2.NodePool {
	t.Helper()
	np := fixtures.NodePool(name, fixtures.NoUID(), fixtures.Edge(), fixtures.WithElection(strategy, replicas))
	np.Spec.LeaderNodeLabelSelector = selector
	np, err := e.pools.AppsV1beta2().NodePools().Create(testContext(t, 10*time.Second), np, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return np
}

func (e *clusterEnv) updatePool(t *testing.T, name string, change func(*appsv1beta2.NodePool)) {
	t.Helper()
	ctx := testContext(t, 10*time.Second)
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		np, err := e.pools.AppsV1beta2().NodePools().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		change(np)
		_, err = e.pools.AppsV1beta2().NodePools().Update(ctx, np, metav1.UpdateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("updating NodePool %s: %v", name, err)
	}
}

func (e *clusterEnv) setLeaders(t *testing.T, name string, ls []appsv1beta2.Leader) {
	t.Helper()
	if _, err := framework.UpdateNodePoolStatus(testContext(t, 10*time.Second), e.pools, name, func(s *appsv1beta2.NodePoolStatus) {
		s.LeaderEndpoints, s.LeaderNum, s.Conditions = ls, int32(len(ls)), nil
	}); err != nil {
		t.Fatal(err)
	}
}

// waitPool waits until cond holds for the NodePool.
func (e *clusterEnv) waitPool(t *testing.T, name, what string, cond func(*appsv1beta2.NodePool) bool) *appsv1beta2.NodePool {
	t.Helper()
	var np *appsv1beta2.NodePool
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		np, err = e.pools.AppsV1beta2().NodePools().Get(ctx, name, metav1.GetOptions{})
		return err == nil && cond(np), nil
	})
	if err != nil {
		var status appsv1beta2.NodePoolStatus
		if np != nil {
			status = np.Status
		}
		t.Fatalf("NodePool %s never %s (status %+v)", name, what, status)
	}
	return np
}

// waitMetric waits until a series of the view's /metrics has want.
func (e *clusterEnv) waitMetric(t *testing.T, lh *framework.LeaderHub, series string, want float64) {
	t.Helper()
	var got float64
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		got = seriesValue(t, scrapeFrom(t, e.cp, lh), series)
		return got == want, nil
	})
	if err != nil {
		t.Fatalf("%s = %v, want %v", series, got, want)
	}
}

func (e *clusterEnv) metric(t *testing.T, lh *framework.LeaderHub, series string) float64 {
	t.Helper()
	return seriesValue(t, scrapeFrom(t, e.cp, lh), series)
}

// waitEvent waits for an Event of a type and reason on a NodePool.
func (e *clusterEnv) waitEvent(t *testing.T, pool, typ, reason string) corev1.Event {
	t.Helper()
	var found corev1.Event
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := e.kube.CoreV1().Events("default").List(ctx, metav1.ListOptions{
			FieldSelector: "involvedObject.name=" + pool + ",reason=" + reason + ",type=" + typ})
		if err != nil || len(list.Items) == 0 {
			return false, nil
		}
		found = list.Items[0]
		return true, nil
	})
	if err != nil {
		t.Fatalf("no %s %s Event on NodePool %s", typ, reason, pool)
	}
	return found
}

func leaderNodes(np *appsv1beta2.NodePool) []string {
	out := make([]string, 0, len(np.Status.LeaderEndpoints))
	for _, l := range np.Status.LeaderEndpoints {
		out = append(out, l.NodeName)
	}
	return out
}

func leaderReady(np *appsv1beta2.NodePool) *appsv1beta2.NodePoolCondition {
	for i := range np.Status.Conditions {
		if np.Status.Conditions[i].Type == appsv1beta2.LeaderStatus {
			return &np.Status.Conditions[i]
		}
	}
	return nil
}

func hasReason(reason string) func(*appsv1beta2.NodePool) bool {
	return func(np *appsv1beta2.NodePool) bool {
		c := leaderReady(np)
		return c != nil && c.Reason == reason && (c.Status == corev1.ConditionTrue) == (reason == hubleader.ReasonLeadersElected)
	}
}

// rank is the elector's order of preference among nodes for a pool.
func rank(uid types.UID, nodes ...string) []string {
	out := slices.Clone(nodes)
	slices.SortFunc(out, func(a, b string) int {
		if hubleader.Score(uid, a) > hubleader.Score(uid, b) {
			return -1
		}
		return 1
	})
	return out
}

func without(s []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(s), func(x string) bool { return slices.Contains(drop, x) })
}

// TestElection: the election is tracked with leaders written by hand (as
// upstream's elector would), then leaderhub's own elector runs.
func TestElection(t *testing.T) {
	e := startClusterEnv(t, "leaderhub-election-view",
		"--controllers=-materialize", "--election-deadline="+electionDeadline.String(), "--watch-bookmark-interval=1s")
	t.Run("tracked with leaders written by hand", e.testTrackedByHand)
	t.Run("elector", e.testElector)
	t.Run("elector against kube-apiserver's conflicts", e.testElectorConflicts)
	t.Run("pool outages", e.testPoolOutages)
	t.Run("alerts and dashboard name exported metrics", e.testMonitoringNamesExportedMetrics)
}

func (e *clusterEnv) testTrackedByHand(t *testing.T) {
	const (
		succeeded = `leaderhub_elections_total{result="succeeded"}`
		failed    = `leaderhub_elections_total{result="failed"}`
		durations = `leaderhub_election_duration_seconds_count`
		stale     = `leaderhub_stale_leaders`
	)
	for i := 1; i <= 2; i++ {
		e.createNode(t, fmt.Sprintf("hand-%d", i), "hand", fmt.Sprintf("10.30.0.%d", i), nil)
	}
	e.createElectionPool(t, "hand", appsv1beta2.ElectionStrategyRandom, 1, nil)
	e.waitMetric(t, e.view, `leaderhub_election_pools{state="leaderless"}`, 1)
	e.waitMetric(t, e.view, `leaderhub_election_leaderless_electable_pools`, 1)
	if got := e.metric(t, e.view, succeeded) + e.metric(t, e.view, failed); got != 0 {
		t.Fatalf("%v elections counted before any ended", got)
	}

	// A leader written within the deadline: succeeded.
	e.setLeaders(t, "hand", leaders("hand-1=10.30.0.1"))
	e.waitMetric(t, e.view, succeeded, 1)
	e.waitMetric(t, e.view, `leaderhub_election_pools{state="ready"}`, 1)
	out, err := e.cp.Kubectl(testContext(t, 20*time.Second), "get", "lh", "-n", framework.LeaderHubNamespace, "leader-hub-hand", "-o", "wide")
	if err != nil || !strings.Contains(out, "READY") || !strings.Contains(out, " 1/1 ") {
		t.Errorf("kubectl get lh -o wide: %v\n%s", err, out)
	}

	// The leader's Node goes NotReady: a stale leader, and an election
	// nobody ends within the deadline: failed.
	e.setReady(t, "hand-1", false)
	e.waitMetric(t, e.view, stale, 1)
	e.waitMetric(t, e.view, failed, 1)
	if got := e.metric(t, e.view, succeeded); got != 1 {
		t.Errorf("succeeded %v after a failure, want 1", got)
	}
	// A late leader ends the failed election: counted in the durations,
	// not as a success.
	e.setLeaders(t, "hand", leaders("hand-2=10.30.0.2"))
	e.waitMetric(t, e.view, stale, 0)
	e.waitMetric(t, e.view, durations, 2)
	if s, f := e.metric(t, e.view, succeeded), e.metric(t, e.view, failed); s != 1 || f != 1 {
		t.Errorf("after a late success: succeeded %v failed %v, want 1 and 1", s, f)
	}
	if got := e.metric(t, e.view, `leaderhub_leader_changes_total`); got != 2 {
		t.Errorf("leader changes %v, want 2", got)
	}
	if err := e.pools.AppsV1beta2().NodePools().Delete(testContext(t, 10*time.Second), "hand", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitMetric(t, e.view, `leaderhub_election_pools{state="ready"}`, 0)
}

func (e *clusterEnv) testElector(t *testing.T) {
	elector := e.startElector(t, "leaderhub-elector", "")
	var nodes []string
	for i := 1; i <= 5; i++ {
		nodes = append(nodes, fmt.Sprintf("rand-%d", i))
		e.createNode(t, nodes[i-1], "rand", fmt.Sprintf("10.31.0.%d", i), nil)
	}
	np := e.createElectionPool(t, "rand", appsv1beta2.ElectionStrategyRandom, 1, nil)
	order := rank(np.UID, nodes...)
	ip := func(node string) string { return "10.31.0." + strings.TrimPrefix(node, "rand-") }

	// random: the Node of highest rendezvous score; LeaderReady True.
	np = e.waitPool(t, "rand", "elected 1 leader", hasReason(hubleader.ReasonLeadersElected))
	if got := leaderNodes(np); !slices.Equal(got, order[:1]) || np.Status.LeaderNum != 1 || np.Status.LeaderLastElectedTime.IsZero() {
		t.Fatalf("leaders %v (leaderNum %d), want %v", got, np.Status.LeaderNum, order[:1])
	}
	e.waitEvent(t, "rand", corev1.EventTypeNormal, hubleader.EventLeaderElected)

	// leaderReplicas 1 -> 3 keeps the first; 3 -> 2 drops the last chosen.
	e.updatePool(t, "rand", func(np *appsv1beta2.NodePool) { np.Spec.LeaderReplicas = 3 })
	np = e.waitPool(t, "rand", "elected 3 leaders", func(np *appsv1beta2.NodePool) bool { return len(np.Status.LeaderEndpoints) == 3 })
	if got := leaderNodes(np); !slices.Equal(got, order[:3]) {
		t.Fatalf("leaders %v, want %v", got, order[:3])
	}
	e.updatePool(t, "rand", func(np *appsv1beta2.NodePool) { np.Spec.LeaderReplicas = 2 })
	np = e.waitPool(t, "rand", "down to 2 leaders", func(np *appsv1beta2.NodePool) bool { return len(np.Status.LeaderEndpoints) == 2 })
	if got := leaderNodes(np); !slices.Equal(got, order[:2]) {
		t.Fatalf("leaders %v, want %v", got, order[:2])
	}

	// A leader's Node goes NotReady: replaced, and a view watcher has the
	// new leaders soon after the Node status write.
	views := e.lh.LeaderhubV1alpha1().LeaderHubs(framework.LeaderHubNamespace)
	cur, err := views.Get(testContext(t, 10*time.Second), "leader-hub-rand", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := views.Watch(testContext(t, time.Minute), metav1.ListOptions{FieldSelector: "metadata.name=leader-hub-rand",
		ResourceVersion: cur.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// The NodePool watched too, to tell the elector's part from the view's.
	npw, err := e.pools.AppsV1beta2().NodePools().Watch(testContext(t, time.Minute), metav1.ListOptions{
		FieldSelector: "metadata.name=rand", ResourceVersion: np.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer npw.Stop()
	written := make(chan time.Time, 1)
	go func() {
		for ev := range npw.ResultChan() {
			if np, ok := ev.Object.(*appsv1beta2.NodePool); ok && !slices.Contains(leaderNodes(np), order[0]) {
				written <- time.Now()
				return
			}
		}
	}()
	down := order[0]
	start := time.Now()
	e.setReady(t, down, false)
	nodeWritten := time.Now()
	wantAfter := []string{order[1], order[2]}
	var got string
	for !strings.Contains(got, order[2]+"/") {
		ev := nextEvent(t, w, 20*time.Second)
		if ev.Type == watch.Modified {
			got = leaderHubLeaders(ev.Object.(*v1alpha1.LeaderHub))
		}
	}
	viewEvent := time.Now()
	select {
	case at := <-written:
		t.Logf("failover: %v from the Node status write (a GET and an update, %v) to the view watcher's event with the new leaders (%s); "+
			"a NodePool watcher saw them after %v",
			viewEvent.Sub(start), nodeWritten.Sub(start), got, at.Sub(start))
	case <-time.After(10 * time.Second):
		t.Errorf("a NodePool watcher never saw the new leaders")
	}
	np = e.waitPool(t, "rand", "replaced the NotReady leader", hasReason(hubleader.ReasonLeadersElected))
	if got := leaderNodes(np); !slices.Equal(got, wantAfter) {
		t.Fatalf("leaders %v, want %v (kept %s, then the next rank)", got, wantAfter, order[1])
	}
	e.waitEvent(t, "rand", corev1.EventTypeNormal, hubleader.EventLeaderReplaced)

	// The former leader recovers: it does not take its slot back, and the
	// NodePool is not written at all. Then a leader's InternalIP changes:
	// republished with the new address. The elector handles Node changes
	// in order, so once the address is republished it has handled the
	// recovery, and that change is the one status write since.
	writes := e.metric(t, elector, "leaderhub_hubleader_status_writes_total")
	e.setReady(t, down, true)
	e.updateNode(t, order[1], func(n *corev1.Node) { n.Status.Addresses[0].Address = "10.31.1.1" })
	np = e.waitPool(t, "rand", "republished the new address", func(np *appsv1beta2.NodePool) bool {
		return slices.Contains(np.Status.LeaderEndpoints, appsv1beta2.Leader{NodeName: order[1], Address: "10.31.1.1"})
	})
	if got := leaderNodes(np); !slices.Equal(got, wantAfter) {
		t.Errorf("leaders %v after the former leader recovered, want %v", got, wantAfter)
	}
	if after := e.metric(t, elector, "leaderhub_hubleader_status_writes_total"); after != writes+1 {
		t.Errorf("%v NodePool status writes for a recovered former leader and one address change, want 1", after-writes)
	}

	// A leader's Node moves to another pool: it stops being a leader. The
	// open slot goes to the best candidate, which is the recovered former
	// leader again: it never got its slot back while none was open.
	e.updateNode(t, order[2], func(n *corev1.Node) { n.Labels[appsv1beta2.LabelNodePool] = "elsewhere" })
	np = e.waitPool(t, "rand", "replaced the leader that left", func(np *appsv1beta2.NodePool) bool {
		return len(np.Status.LeaderEndpoints) == 2 && !slices.Contains(leaderNodes(np), order[2])
	})
	if got, want := leaderNodes(np), []string{order[1], order[0]}; !slices.Equal(got, want) {
		t.Errorf("leaders %v, want %v", got, want)
	}

	// 100 heartbeat-only Node status updates: no NodePool write. A change
	// the elector must publish comes last; once it is published, the
	// heartbeats before it have been handled, and it is the only write.
	writes = e.metric(t, elector, "leaderhub_hubleader_status_writes_total")
	for i := range 100 {
		e.updateNode(t, nodes[i%len(nodes)], func(n *corev1.Node) { n.Status.Conditions[0].LastHeartbeatTime = metav1.Now() })
	}
	e.updateNode(t, order[1], func(n *corev1.Node) { n.Status.Addresses[0].Address = "10.31.1.2" })
	e.waitPool(t, "rand", "republished the address changed after the heartbeats", func(np *appsv1beta2.NodePool) bool {
		return slices.Contains(np.Status.LeaderEndpoints, appsv1beta2.Leader{NodeName: order[1], Address: "10.31.1.2"})
	})
	if after := e.metric(t, elector, "leaderhub_hubleader_status_writes_total"); after != writes+1 {
		t.Errorf("100 heartbeats and one address change made %v NodePool status writes, want 1", after-writes)
	}
	t.Logf("100 heartbeat-only Node updates and an address change: 1 NodePool write")

	// LeaderReady transitions: more wanted than can lead, none can lead,
	// election off, and back.
	e.updatePool(t, "rand", func(np *appsv1beta2.NodePool) { np.Spec.LeaderReplicas = 6 })
	np = e.waitPool(t, "rand", "InsufficientCandidates", hasReason(hubleader.ReasonInsufficientCandidates))
	if len(np.Status.LeaderEndpoints) != 4 { // 5 Nodes, one moved out
		t.Errorf("leaders %v, want all 4 Nodes left", leaderNodes(np))
	}
	// No Node can lead: every one loses its InternalIP. (Every one NotReady
	// would be a pool cut off from the cloud, which keeps its leaders:
	// TestPoolOutage.)
	addresses := map[string][]corev1.NodeAddress{}
	for _, n := range without(nodes, order[2]) {
		e.updateNode(t, n, func(node *corev1.Node) { addresses[n], node.Status.Addresses = node.Status.Addresses, nil })
	}
	np = e.waitPool(t, "rand", "NoCandidates", hasReason(hubleader.ReasonNoCandidates))
	if len(np.Status.LeaderEndpoints) != 0 || np.Status.LeaderNum != 0 {
		t.Errorf("leaders %v with no candidates", leaderNodes(np))
	}
	e.waitEvent(t, "rand", corev1.EventTypeWarning, hubleader.EventNoCandidates)
	e.updatePool(t, "rand", func(np *appsv1beta2.NodePool) { np.Spec.EnableLeaderElection = false })
	e.waitPool(t, "rand", "ElectionDisabled", hasReason(hubleader.ReasonElectionDisabled))
	for _, n := range without(nodes, order[2]) {
		e.updateNode(t, n, func(node *corev1.Node) { node.Status.Addresses = addresses[n] })
	}
	e.updatePool(t, "rand", func(np *appsv1beta2.NodePool) { np.Spec.EnableLeaderElection, np.Spec.LeaderReplicas = true, 2 })
	np = e.waitPool(t, "rand", "LeadersElected again", hasReason(hubleader.ReasonLeadersElected))
	if got, want := leaderNodes(np), without(order, order[2])[:2]; !slices.Equal(got, want) {
		t.Errorf("leaders %v, want %v", got, want)
	}
	for _, l := range np.Status.LeaderEndpoints {
		if l.NodeName == order[1] && l.Address != "10.31.1.2" || l.NodeName != order[1] && l.Address != ip(l.NodeName) {
			t.Errorf("leader %+v has the wrong address", l)
		}
	}

	// mark without a selector: no leaders, a Warning, and no crash.
	e.createNode(t, "mark-1", "mark-none", "10.32.0.1", map[string]string{"leader": "yes"})
	e.createElectionPool(t, "mark-none", appsv1beta2.ElectionStrategyMark, 1, nil)
	np = e.waitPool(t, "mark-none", "NoCandidates", hasReason(hubleader.ReasonNoCandidates))
	if len(np.Status.LeaderEndpoints) != 0 {
		t.Errorf("mark without selector elected %v", leaderNodes(np))
	}
	ev := e.waitEvent(t, "mark-none", corev1.EventTypeWarning, hubleader.EventNoCandidates)
	if !strings.Contains(ev.Message, "leaderNodeLabelSelector") {
		t.Errorf("NoCandidates Event %q does not name the selector", ev.Message)
	}
	// mark with a selector: only the labeled Node.
	e.createNode(t, "mark-2", "mark-sel", "10.32.1.2", nil)
	e.createNode(t, "mark-3", "mark-sel", "10.32.1.3", map[string]string{"leader": "yes"})
	e.createElectionPool(t, "mark-sel", appsv1beta2.ElectionStrategyMark, 2, map[string]string{"leader": "yes"})
	np = e.waitPool(t, "mark-sel", "InsufficientCandidates", hasReason(hubleader.ReasonInsufficientCandidates))
	if got := leaderNodes(np); !slices.Equal(got, []string{"mark-3"}) {
		t.Errorf("mark elected %v, want [mark-3]", got)
	}
	if elector.Process.Exited() {
		t.Fatal("the elector exited")
	}

	// Another writer (upstream's hubleader, say) changes the leaders: the
	// elector warns, keeps the valid one it was given and fills the slot.
	np = e.waitPool(t, "rand", "read", func(*appsv1beta2.NodePool) bool { return true })
	first := leaderNodes(np)
	e.setLeaders(t, "rand", np.Status.LeaderEndpoints[1:])
	np = e.waitPool(t, "rand", "refilled after another writer", func(np *appsv1beta2.NodePool) bool {
		return len(np.Status.LeaderEndpoints) == 2 && leaderReady(np) != nil
	})
	if got, want := leaderNodes(np), []string{first[1], first[0]}; !slices.Equal(got, want) {
		t.Errorf("after another writer: leaders %v, want %v", got, want)
	}
	if log := elector.Process.Tail(1 << 16); !strings.Contains(log, "changed by a writer other than leaderhub's elector") {
		t.Error("the elector did not warn about another writer")
	}

	// Restarts choose alike: the elector stopped, the leaders cleared by
	// hand, a new elector elects the same ones (in rank order), twice.
	first = leaderNodes(np)
	slices.Sort(first)
	var previous []string
	for i := 1; i <= 2; i++ {
		if err := elector.Process.Stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		e.setLeaders(t, "rand", nil)
		elector = e.startElector(t, fmt.Sprintf("leaderhub-elector-%d", i), "")
		np = e.waitPool(t, "rand", "elected after a restart", func(np *appsv1beta2.NodePool) bool { return len(np.Status.LeaderEndpoints) == 2 })
		got := leaderNodes(np)
		if sorted := slices.Sorted(slices.Values(got)); !slices.Equal(sorted, first) || previous != nil && !slices.Equal(got, previous) {
			t.Errorf("restart %d elected %v; the first elector %v, the previous restart %v", i, got, first, previous)
		}
		previous = got
	}
}

// testElectorConflicts: the elector on the real API, where the fakes of the
// unit tests stood in. Its NodePool watch goes through a gate. Another
// writer's status fields survive every elector write; a NotReady leader is
// kept for --leader-grace-period, then replaced; a leader whose Node is
// deleted while the elector reads a stale NodePool gets kube-apiserver's
// 409 Conflict for the elector's patch (resourceVersion precondition), which
// writes nothing, and is replaced once the elector sees the pool again.
func (e *clusterEnv) testElectorConflicts(t *testing.T) {
	const pool, grace = "conflicts", 3 * time.Second
	ctx := testContext(t, 3*time.Minute)
	gate, kubeconfig := leaderHubGate(t, e.cp, "leaderhub-elector-gated")
	elector := e.startElector(t, "leaderhub-elector-gated", kubeconfig, "--leader-grace-period="+grace.String())
	var nodes []string
	for i := 1; i <= 4; i++ {
		nodes = append(nodes, fmt.Sprintf("conflict-%d", i))
		e.createNode(t, nodes[i-1], pool, fmt.Sprintf("10.33.0.%d", i), nil)
	}
	np := e.createElectionPool(t, pool, appsv1beta2.ElectionStrategyRandom, 1, nil)
	order := rank(np.UID, nodes...)
	np = e.waitPool(t, pool, "elected", hasReason(hubleader.ReasonLeadersElected))
	if got := leaderNodes(np); !slices.Equal(got, order[:1]) {
		t.Fatalf("leaders %v, want %v", got, order[:1])
	}
	othersFields := func(nodes ...string) func(*appsv1beta2.NodePoolStatus) {
		return func(s *appsv1beta2.NodePoolStatus) { s.Nodes, s.ReadyNodeNum = nodes, 42 }
	}
	keptOthersFields := func(np *appsv1beta2.NodePool, nodes ...string) {
		t.Helper()
		if !slices.Equal(np.Status.Nodes, nodes) || np.Status.ReadyNodeNum != 42 {
			t.Errorf("the elector's write changed another writer's status fields: nodes %v, readyNodeNum %d", np.Status.Nodes, np.Status.ReadyNodeNum)
		}
	}
	if _, err := framework.UpdateNodePoolStatus(ctx, e.pools, pool, othersFields("written-by-another-controller")); err != nil {
		t.Fatal(err)
	}

	// The leader goes NotReady: kept for the grace period, then replaced.
	start := time.Now()
	e.setReady(t, order[0], false)
	np = e.waitPool(t, pool, "replaced the NotReady leader", func(np *appsv1beta2.NodePool) bool {
		return slices.Equal(leaderNodes(np), order[1:2])
	})
	// The grace runs from the Ready condition's lastTransitionTime, which
	// holds whole seconds: up to a second of it may have passed at start.
	if waited := time.Since(start); waited < grace-time.Second {
		t.Errorf("the NotReady leader was replaced %v after it went NotReady, within --leader-grace-period=%v", waited, grace)
	}
	keptOthersFields(np, "written-by-another-controller")

	// The elector's NodePool watch held, another writer changes the pool,
	// and the leader's Node is deleted: the elector elects on the stale
	// pool and kube-apiserver refuses its patch.
	const conflicts = `leaderhub_hubleader_syncs_total{result="conflict"}`
	conflictsBefore := e.metric(t, elector, conflicts)
	gate.Hold()
	if _, err := framework.UpdateNodePoolStatus(ctx, e.pools, pool, othersFields("written-while-the-elector-looked-away")); err != nil {
		t.Fatal(err)
	}
	if err := gate.WaitHeld(ctx); err != nil {
		t.Fatalf("the elector never tried to resume its NodePool watch: %v", err)
	}
	if err := e.kube.CoreV1().Nodes().Delete(ctx, order[1], metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return e.metric(t, elector, conflicts) > conflictsBefore, nil
	})
	if err != nil {
		t.Fatalf("%s stayed at %v: the elector's patch of a stale NodePool was not refused\n%s", conflicts, conflictsBefore, elector.Process.Tail(4096))
	}
	np = e.waitPool(t, pool, "read", func(*appsv1beta2.NodePool) bool { return true })
	if got := leaderNodes(np); !slices.Equal(got, order[1:2]) {
		t.Errorf("leaders %v while every elector write conflicted, want %v unchanged", got, order[1:2])
	}
	keptOthersFields(np, "written-while-the-elector-looked-away")

	// Once the elector sees the pool again, it replaces the deleted leader
	// (order[0] is still NotReady) and keeps the other writer's change.
	gate.Expire()
	np = e.waitPool(t, pool, "replaced the deleted leader", func(np *appsv1beta2.NodePool) bool {
		return slices.Equal(leaderNodes(np), order[2:3]) && hasReason(hubleader.ReasonLeadersElected)(np)
	})
	keptOthersFields(np, "written-while-the-elector-looked-away")
	t.Logf("grace period held, then %v conflicts refused by kube-apiserver before the elector saw the pool again",
		e.metric(t, elector, conflicts)-conflictsBefore)
}
