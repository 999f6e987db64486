package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/test/fixtures"
	"github.com/leaderhub/leaderhub/test/framework"
)

// election: many Nodes in many pools with leaderhub's elector on. How long
// the first elections take, what heartbeat churn costs (CPU per Node update,
// NodePool writes: none wanted), the failover time from a leader's Node going
// NotReady to every view watcher of its pool having the new leader, and the
// Node cache's memory per Node in the view's server.
func (e *env) election(ctx context.Context) error {
	c := e.cfg
	const prefix = "el"
	began := time.Now()
	// The scenario owns the cluster's NodePools: the elector would otherwise
	// elect for those other scenarios left (none of which has Nodes). It
	// runs first, so there are none to delete, and removes its own after.
	if err := e.pools.AppsV1beta2().NodePools().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		return err
	}
	if !c.large { // the large run is alone: its control plane goes with it
		defer e.removeElectionObjects(ctx)
	}
	if err := waitFor(ctx, 5*time.Minute, "the view to empty", func(ctx context.Context) (bool, error) {
		list, err := versionedFor(e.direct).LeaderhubV1alpha1().LeaderHubs(ns).List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil && len(list.Items) == 0, nil
	}); err != nil {
		return err
	}
	if _, err := e.waitControllerIdle(ctx); err != nil {
		return err
	}
	heapBefore, err := goFootprint(ctx, e.direct, "")
	if err != nil {
		return err
	}
	rssBefore := settledRSS(e.lh.Process.PID)

	// Nodes: created, then made Ready with an InternalIP through the status
	// subresource, as kubelets do.
	nodeCount := c.electionPools * c.electionNodesPerPool
	nodes := make([]*corev1.Node, nodeCount)
	nodeName := func(p, i int) string { return fmt.Sprintf("%s-%d-n%d", prefix, p, i) }
	start := time.Now()
	err = parallel(nodeCount, 32, func(k int) error {
		p, i := k/c.electionNodesPerPool, k%c.electionNodesPerPool
		n := fixtures.WithLabels(fixtures.Node(nodeName(p, i), poolName(prefix, p), true,
			fmt.Sprintf("172.%d.%d.%d", 16+p/250, p%250, i+1)), map[string]string{"kubernetes.io/os": "linux"})
		var err error
		nodes[k], err = framework.CreateNode(ctx, e.kube, n)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating Nodes: %w", err)
	}
	nodesWritten := time.Since(start)
	time.Sleep(3 * time.Second) // the Node informers have the last of them
	heapNodes, err := goFootprint(ctx, e.direct, "_output/bench-heap-"+prefix+"-nodes.pb.gz")
	if err != nil {
		return err
	}
	rssNodes := settledRSS(e.lh.Process.PID)

	elector, err := e.cp.StartLeaderHub(ctx, electorOptions("leaderhub-elector"))
	if err != nil {
		return err
	}
	defer func() { _ = elector.Process.Stop(10 * time.Second) }()
	electorCfg, err := elector.RESTConfigFor(e.cp, "bench", "system:masters")
	if err != nil {
		return err
	}

	// Pools with election on, one leader each, elected by the elector.
	start = time.Now()
	err = parallel(c.electionPools, 16, func(p int) error {
		_, err := e.pools.AppsV1beta2().NodePools().Create(ctx, fixtures.NodePool(poolName(prefix, p), fixtures.NoUID(),
			fixtures.Edge(), fixtures.WithElection(appsv1beta2.ElectionStrategyRandom, 1)), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	leaderOf := map[string]string{}
	if err := waitFor(ctx, 5*time.Minute, "every pool to have its leader", func(ctx context.Context) (bool, error) {
		list, err := e.pools.AppsV1beta2().NodePools().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, np := range list.Items {
			if len(np.Status.LeaderEndpoints) == 1 {
				leaderOf[np.Name] = np.Status.LeaderEndpoints[0].NodeName
			}
		}
		return len(leaderOf) == c.electionPools, nil
	}); err != nil {
		return err
	}
	elected := time.Since(start)
	time.Sleep(3 * time.Second) // the view has the last leaders
	heapPools, err := goFootprint(ctx, e.direct, "")
	if err != nil {
		return err
	}
	rssPools := settledRSS(e.lh.Process.PID)
	started, err := e.startupAtScale(ctx)
	if err != nil {
		return fmt.Errorf("start-up: %w", err)
	}

	// Heartbeat churn at a fixed rate: Node status updates that change only
	// lastHeartbeatTime.
	metricsBefore, err := scrapeServer(ctx, electorCfg)
	if err != nil {
		return err
	}
	poolsBefore, err := e.pools.AppsV1beta2().NodePools().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	// An idle window first, so the churn's CPU is reported net of what the
	// servers spend anyway (lease renewals, bookmarks, GC).
	const idle = 10 * time.Second
	cpuElectorIdle, err := cpuSeconds(elector.Process.PID)
	if err != nil {
		return err
	}
	cpuViewIdle, err := cpuSeconds(e.lh.Process.PID)
	if err != nil {
		return err
	}
	time.Sleep(idle)
	cpuElectorBefore, _ := cpuSeconds(elector.Process.PID)
	cpuViewBefore, _ := cpuSeconds(e.lh.Process.PID)
	idleElector := (cpuElectorBefore - cpuElectorIdle) / idle.Seconds()
	idleView := (cpuViewBefore - cpuViewIdle) / idle.Seconds()
	updates := c.electionChurnRate * int(c.electionChurnFor/time.Second)
	tick := time.NewTicker(time.Second / time.Duration(c.electionChurnRate))
	start = time.Now()
	// A CPU profile of the view server over the middle of the churn: what
	// a heartbeat costs besides its decoding.
	cpuProfilePath := "_output/bench-cpu-" + prefix + "-heartbeats.pb.gz"
	profiled := make(chan error, 1)
	go func() {
		time.Sleep(c.electionChurnFor / 4)
		profiled <- cpuProfile(ctx, e.direct, c.electionChurnFor/2, cpuProfilePath)
	}()
	err = parallel(updates, 32, func(k int) error {
		<-tick.C
		i := k % nodeCount
		n := nodes[i].DeepCopy()
		n.Status.Conditions[0].LastHeartbeatTime = metav1.Now()
		updated, err := e.kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		if err == nil {
			nodes[i] = updated
		}
		return err
	})
	tick.Stop()
	if err != nil {
		return fmt.Errorf("heartbeats: %w", err)
	}
	time.Sleep(3 * time.Second) // the last heartbeats reach both servers
	churnTook := time.Since(start)
	if err := <-profiled; err != nil {
		return err
	}
	cpuElector, _ := cpuSeconds(elector.Process.PID)
	cpuView, _ := cpuSeconds(e.lh.Process.PID)
	metricsAfter, err := scrapeServer(ctx, electorCfg)
	if err != nil {
		return err
	}
	poolsAfter, err := e.pools.AppsV1beta2().NodePools().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	rvBefore := map[string]string{}
	for _, np := range poolsBefore.Items {
		rvBefore[np.Name] = np.ResourceVersion
	}
	poolWrites := 0
	for _, np := range poolsAfter.Items {
		if rvBefore[np.Name] != np.ResourceVersion {
			poolWrites++
		}
	}
	electorWrites := metricSum(metricsAfter, "leaderhub_hubleader_status_writes_total", "") -
		metricSum(metricsBefore, "leaderhub_hubleader_status_writes_total", "")

	samples, perPool, err := e.failover(ctx, prefix, leaderOf, nodes, nodeName)
	if err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	outageRows, err := e.outageRows(ctx, prefix, nodes, elector, electorCfg)
	if err != nil {
		return err
	}

	n := float64(updates)
	bytesPerNode := func(b float64) string { return fmt.Sprintf("%.0f B", b/float64(nodeCount)) }
	kibPerPool := func(b float64) string { return fmt.Sprintf("%.2f KiB", b/float64(c.electionPools)/1024) }
	rows := [][]string{
		{"Nodes written (create + status, 32 at a time)", nodesWritten.Round(time.Second).String()},
		{fmt.Sprintf("%d pools created until each had its leader", c.electionPools), elected.Round(100 * time.Millisecond).String()},
		{"view server Go heap per Node (its Node cache, after two forced GCs)", bytesPerNode(heapNodes.heap - heapBefore.heap)},
		{"view server RSS per Node (settled)", bytesPerNode(float64(rssNodes - rssBefore))},
		{"view server Go heap per pool with election on (view, election tracker)", kibPerPool(heapPools.heap - heapNodes.heap)},
		{"view server RSS per pool (settled)", kibPerPool(float64(rssPools - rssNodes))},
	}
	rows = append(rows, started.rows(nodeCount, c.electionPools)...)
	rows = append(rows, [][]string{
		{fmt.Sprintf("heartbeats sent (%d), and 3 s for the last to arrive", updates), churnTook.Round(100 * time.Millisecond).String()},
		{"… NodePool writes (pools whose resourceVersion moved)", fmt.Sprint(poolWrites)},
		{"… elector status writes", fmt.Sprintf("%.0f", electorWrites)},
		{"… elector CPU per Node update, net of idle", fmt.Sprintf("%.0f µs (idle: %.0f ms/s)",
			(cpuElector-cpuElectorBefore-idleElector*churnTook.Seconds())/n*1e6, idleElector*1e3)},
		{"… view server CPU per Node update, net of idle (its Node cache and election tracker)", fmt.Sprintf("%.0f µs (idle: %.0f ms/s)",
			(cpuView-cpuViewBefore-idleView*churnTook.Seconds())/n*1e6, idleView*1e3)},
		{fmt.Sprintf("failover, per watcher: p50 / p99 / max (%d deliveries)", len(samples)),
			fmt.Sprintf("%s / **%s** / %s", ms(percentile(samples, 0.5)), ms(percentile(samples, 0.99)), ms(percentile(samples, 1)))},
		{"failover, all watchers of a pool: p50 / p99", fmt.Sprintf("%s / %s", ms(percentile(perPool, 0.5)), ms(percentile(perPool, 0.99)))},
	}...)
	title := "9. Hub-leader election at scale"
	outages := fmt.Sprintf("Outages: %d pools lose every Node (NotReady), then get them back over 5 s, "+
		"their leaders 5 s after the others; first with each pool's Nodes marked at once (the pools within 5 s), then, on "+
		"%[1]d other pools, with every Node marked at its own moment within 5 s, and again on %[1]d more with the elector "+
		"restarted with `--leader-grace-period=15s`.", outagePools(c))
	if c.large {
		title = fmt.Sprintf("11. The large run: %d Nodes in %d pools", nodeCount, c.electionPools)
		outages = fmt.Sprintf("Outage: %d pools lose every Node (NotReady), each pool's Nodes at once, the pools within 5 s, "+
			"then get them back over 5 s, their leaders 5 s after the others. Run alone with `%s`, %s on %s.",
			outagePools(c), e.report.command(), time.Since(began).Round(time.Second), time.Now().UTC().Format("2006-01-02"))
	}
	e.report.section(title,
		fmt.Sprintf("%d Nodes in %d pools (%d each), Ready with one InternalIP; leaderhub's elector (`--controllers=hubleader`) in a "+
			"second leaderhub-apiserver beside the one serving the view; leaderReplicas 1, strategy random. Heap and RSS are the "+
			"view server's, read before the Nodes, after them and after the pools were elected. Start-up: a third "+
			"leaderhub-apiserver started once the pools were elected, as the chart runs one. Heartbeats: %d Node "+
			"status updates that change only lastHeartbeatTime, %d/s for %v. Failover: %d pools × %d watchers of the view through "+
			"kube-apiserver (name-selected); one pool at a time, its leader's Node set NotReady, timed until each watcher of the "+
			"pool has the event with the new leader. %s", nodeCount, c.electionPools, c.electionNodesPerPool, updates,
			c.electionChurnRate, c.electionChurnFor, c.electionFailoverPools, c.electionWatchers, outages),
		[]string{"measure", "value"},
		append(rows, outageRows...),
		"Goals: 0 NodePool writes for heartbeats; failover p99 under 1 s with the default grace period of 0 (the elector waits "+
			"300 ms before it replaces a NotReady leader, for the rest of a cut-off pool to be marked); 0 leader changes and 0 "+
			"elections counted for pools cut off; ≤ 1 KiB of heap per Node and ≤ 0.8 KiB per pool. "+
			"The per-Node heap is the Node cache (`feed.Node`: name, pool, Ready and since when, InternalIPs, the labels as one "+
			"interned string per distinct set) and its pool index; `BenchmarkNodeCacheMemory` below compares it with whole "+
			"Nodes as kubelets write them. A heartbeat costs its decoding and a comparison with the Node kept: "+
			"`BenchmarkNodeHeartbeat` below measures both.",
		fmt.Sprintf("Where the view server's CPU goes during the heartbeats (a CPU profile over %v of them, "+
			"`go tool pprof -top -cum`, largest first; the Node watch is `leaderhub-nodes`, its decoding `(*Node).Unmarshal` "+
			"and the cache `(*Nodes).Update`):\n\n```\n", c.electionChurnFor/2)+
			pprofLines(cpuProfilePath, 30, "-cum")+"```")
	return nil
}

// outagePools is how many pools each outage of scenario 9 cuts off.
func outagePools(c config) int {
	return min(c.electionOutagePools, (c.electionPools-c.electionFailoverPools)/3)
}

// electorOptions run leaderhub's elector alone, with extra flags.
func electorOptions(name string, args ...string) framework.LeaderHubOptions {
	return framework.LeaderHubOptions{Name: name, User: "bench-elector", Groups: []string{"system:masters"},
		Args: append([]string{"--controllers=hubleader", "--leader-elect-resource-name=leaderhub-elector-bench",
			"--kube-api-qps=1000", "--kube-api-burst=2000", "--v=1"}, args...)}
}

// failover times leader replacement: for each of the first pools, a
// leader's Node goes NotReady and every watcher of the pool's view must get
// an event whose leader is another Node.
func (e *env) failover(ctx context.Context, prefix string, leaderOf map[string]string, nodes []*corev1.Node,
	nodeName func(p, i int) string) (samples, perPool []time.Duration, err error) {
	c := e.cfg
	tr, err := newTransports(e.admin, 200)
	if err != nil {
		return nil, nil, err
	}
	defer tr.close()
	var timer deliveryTimer
	var watchers []*streamWatch
	for p := range c.electionFailoverPools {
		for w := range c.electionWatchers {
			id := p*c.electionWatchers + w
			watchers = append(watchers, openWatch(ctx, tr.client(), leaderHubWatchURL(e.admin.Host, poolName(prefix, p), ""),
				func(typ string, obj []byte, at time.Time) { timer.seen(id, obj, at) }))
		}
	}
	defer stopAll(watchers)
	if failed, err := waitEstablished(watchers, 2*time.Minute); failed > 0 {
		return nil, nil, fmt.Errorf("%d watches failed: %w", failed, err)
	}
	time.Sleep(2 * time.Second) // initial events are in
	index := map[string]int{}
	for k, n := range nodes {
		index[n.Name] = k
	}
	for p := range c.electionFailoverPools {
		leader := leaderOf[poolName(prefix, p)]
		k, ok := index[leader]
		if !ok {
			return nil, nil, fmt.Errorf("pool %s: leader %q is none of the scenario's Nodes (%s...)", poolName(prefix, p), leader, nodeName(p, 0))
		}
		n := nodes[k].DeepCopy()
		now := metav1.Now()
		n.Status.Conditions[0].Status, n.Status.Conditions[0].LastHeartbeatTime, n.Status.Conditions[0].LastTransitionTime =
			corev1.ConditionFalse, now, now
		// The change shows as an event with a leader that is not the one
		// set NotReady.
		timer.begin(func(obj []byte) bool {
			return bytes.Contains(obj, []byte(`"nodeName"`)) && !bytes.Contains(obj, []byte(`"`+leader+`"`))
		})
		if nodes[k], err = e.kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			return nil, nil, err
		}
		got, worst, err := timer.wait(ctx, c.electionWatchers, "every watcher of the pool getting the new leader")
		if err != nil {
			return nil, nil, err
		}
		samples, perPool = append(samples, got...), append(perPool, worst)
	}
	return samples, perPool, nil
}

// removeElectionObjects deletes the scenario's NodePools and Nodes and waits
// until leaderhub's controller has deleted their Endpoints, so the next
// scenarios start from an empty cluster.
func (e *env) removeElectionObjects(ctx context.Context) {
	if err := e.pools.AppsV1beta2().NodePools().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, "election: deleting the NodePools:", err)
	}
	if err := e.kube.CoreV1().Nodes().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, "election: deleting the Nodes:", err)
	}
	if _, err := e.waitControllerIdle(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "election: waiting for the controller:", err)
	}
}
