package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/registry/leaderhub/viewstore"
	"github.com/leaderhub/leaderhub/pkg/server"
)

// currentRVs returns list resourceVersions to watch from, so watches carry
// only what happens next: NodePools, LeaderHubs (through kube-apiserver) and
// Endpoints.
func (e *env) currentRVs(ctx context.Context) (np, lh, ep string, err error) {
	nps, err := e.pools.AppsV1beta2().NodePools().List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return
	}
	lhs, err := versionedFor(e.admin).LeaderhubV1alpha1().LeaderHubs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	eps, err := e.kube.CoreV1().Endpoints(ns).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return
	}
	return nps.ResourceVersion, lhs.ResourceVersion, eps.ResourceVersion, nil
}

type form struct {
	name string
	url  func(pool string) string
	cfg  *rest.Config
}

func sumBytes(ws []*streamWatch) (bytes, events int64) {
	for _, w := range ws {
		bytes += w.bytes.Load()
		events += w.events.Load()
	}
	return
}

// edgeBytes: the bytes each edge watcher receives for status churn and for
// leader changes, watching (a) its NodePool, (b) its LeaderHub through
// kube-apiserver, (c) its materialized Endpoints.
func (e *env) edgeBytes(ctx context.Context) error {
	c := e.cfg
	const prefix = "eb"
	if err := e.createPools(ctx, prefix, c.edgePools); err != nil {
		return err
	}
	if err := e.waitPublished(ctx, prefix, c.edgePools, 5*time.Minute); err != nil {
		return err
	}
	npRV, lhRV, epRV, err := e.currentRVs(ctx)
	if err != nil {
		return err
	}
	host := e.admin.Host
	forms := []form{
		{"(a) own NodePool", func(p string) string { return nodePoolWatchURL(host, p, npRV) }, e.admin},
		{"(b) leader-hub view", func(p string) string { return leaderHubWatchURL(host, p, lhRV) }, e.admin},
		{"(c) materialized Endpoints", func(p string) string { return endpointsWatchURL(host, p, epRV) }, e.admin},
	}
	watchers := make([][]*streamWatch, len(forms))
	for f, fm := range forms {
		tr, err := newTransports(fm.cfg, 200)
		if err != nil {
			return err
		}
		defer tr.close()
		for p := 0; p < c.edgePools; p++ {
			for w := 0; w < c.edgeWatchers; w++ {
				watchers[f] = append(watchers[f], openWatch(ctx, tr.client(), fm.url(poolName(prefix, p)), nil))
			}
		}
		if failed, err := waitEstablished(watchers[f], 2*time.Minute); failed > 0 {
			return fmt.Errorf("%s: %d watches failed: %v", fm.name, failed, err)
		}
	}
	defer func() {
		for _, ws := range watchers {
			stopAll(ws)
		}
	}()
	n := int64(c.edgePools * c.edgeWatchers)

	// Phase 1: status churn only.
	if err := parallel(c.edgePools*c.edgeStatusUpdates, 8, func(i int) error {
		return e.churn(ctx, poolName(prefix, i%c.edgePools), i/c.edgePools)
	}); err != nil {
		return err
	}
	if err := waitFor(ctx, 5*time.Minute, "NodePool watchers receiving the churn", func(context.Context) (bool, error) {
		_, ev := sumBytes(watchers[0])
		return ev >= n*int64(c.edgeStatusUpdates), nil
	}); err != nil {
		return err
	}
	time.Sleep(3 * time.Second) // anything the other forms would get has arrived
	churnBytes := make([]int64, len(forms))
	churnEvents := make([]int64, len(forms))
	for f := range forms {
		churnBytes[f], churnEvents[f] = sumBytes(watchers[f])
	}

	// Phase 2: leader changes.
	for l := 0; l < c.edgeLeaderChanges; l++ {
		if err := parallel(c.edgePools, 8, func(p int) error {
			return e.setLeaders(ctx, poolName(prefix, p), twoLeaders(1000+p*c.edgeLeaderChanges+l))
		}); err != nil {
			return err
		}
	}
	// Each leader change is a NodePool write of its own, so the NodePool and
	// view watchers get one event per change. The controller writes an
	// Endpoints with the leaders of the moment, so changes that come while
	// a pool waits in its queue reach Endpoints watchers as one: those must
	// end at the last leaders.
	atLastLeaders := func(ws []*streamWatch) bool {
		for i, w := range ws {
			p := i / c.edgeWatchers
			last := twoLeaders(1000 + p*c.edgeLeaderChanges + c.edgeLeaderChanges - 1)[0].Address
			if !bytes.Contains(w.lastObject(), []byte(`"ip":"`+last+`"`)) {
				return false
			}
		}
		return true
	}
	waitErr := waitFor(ctx, 3*time.Minute, "every watcher receiving the leader changes", func(context.Context) (bool, error) {
		_, npEvents := sumBytes(watchers[0])
		_, viewEvents := sumBytes(watchers[1])
		return npEvents >= n*int64(c.edgeStatusUpdates+c.edgeLeaderChanges) && viewEvents >= n*int64(c.edgeLeaderChanges) &&
			atLastLeaders(watchers[1]) && atLastLeaders(watchers[2]), nil
	})
	time.Sleep(2 * time.Second)
	var rows [][]string
	perWatcher := func(b int64) float64 { return float64(b) / float64(n) }
	for f, fm := range forms {
		b, ev := sumBytes(watchers[f])
		leaderBytes, leaderEvents := b-churnBytes[f], ev-churnEvents[f]
		rows = append(rows, []string{fm.name,
			fmt.Sprintf("%.0f B (%.1f events)", perWatcher(churnBytes[f]), float64(churnEvents[f])/float64(n)),
			fmt.Sprintf("%.0f B (%.1f events)", perWatcher(leaderBytes), float64(leaderEvents)/float64(n)),
			fmt.Sprintf("%.0f B", perWatcher(b)),
			ratio(float64(churnBytes[0]), float64(churnBytes[f])), ""})
	}
	for f := range forms {
		total0, _ := sumBytes(watchers[0])
		totalF, _ := sumBytes(watchers[f])
		rows[f][5] = ratio(float64(total0), float64(totalF))
	}
	delivered := fmt.Sprintf("Every leader change delivered to every view watcher as an event of its own, and every Endpoints watcher "+
		"at the last leaders (the controller writes one Endpoints for changes that come while the pool is queued): %v.", waitErr == nil)
	if waitErr != nil {
		delivered += " (" + waitErr.Error() + ")"
	}
	e.report.section("1. Edge bytes per watcher",
		fmt.Sprintf("%d pools × %d watchers per form (%d watch streams per form, name-selected, through kube-apiserver); "+
			"%d status updates per pool that leave the projection alone (ready/unready counts, node list), then %d leader changes per pool.",
			c.edgePools, c.edgeWatchers, n, c.edgeStatusUpdates, c.edgeLeaderChanges),
		[]string{"watch", "status churn", "leader changes", "total", "churn a/x", "total a/x"}, rows,
		delivered,
		"Goal: ≥ 100× fewer bytes than (a) for status churn, with every leader change delivered.")
	return nil
}

// fanout: time from a NodePool leader change until each watcher of that pool
// has it, for the view served directly, the view through kube-apiserver,
// and kube-apiserver serving the materialized Endpoints.
func (e *env) fanout(ctx context.Context) error {
	c := e.cfg
	const prefix = "fo"
	if err := e.createPools(ctx, prefix, c.fanoutPools); err != nil {
		return err
	}
	if err := e.waitPublished(ctx, prefix, c.fanoutPools, 5*time.Minute); err != nil {
		return err
	}
	forms := []form{
		{"view, direct", func(p string) string { return leaderHubWatchURL(e.direct.Host, p, "") }, e.direct},
		{"view, through kube-apiserver", func(p string) string { return leaderHubWatchURL(e.admin.Host, p, "") }, e.admin},
		{"Endpoints, kube-apiserver", func(p string) string { return endpointsWatchURL(e.admin.Host, p, "") }, e.admin},
	}
	var rows [][]string
	var p50s []time.Duration
	for f, fm := range forms {
		samples, perChange, err := e.fanoutForm(ctx, prefix, fm, f)
		if err != nil {
			return fmt.Errorf("%s: %w", fm.name, err)
		}
		p50s = append(p50s, percentile(samples, 0.5))
		rows = append(rows, []string{fm.name, fmt.Sprint(len(samples)), ms(percentile(samples, 0.5)), ms(percentile(samples, 0.99)),
			ms(percentile(perChange, 0.5)), ms(percentile(perChange, 0.99)), ""})
	}
	for i := range rows {
		rows[i][6] = ratio(float64(p50s[i]), float64(p50s[2]))
	}
	e.report.section("2. Fan-out latency",
		fmt.Sprintf("%d pools × %d watchers (%d watch streams per form, name-selected, shared HTTP/2 connections of 200 streams); "+
			"%d leader changes timed per form from the NodePool status write until each watcher of the pool has the event. "+
			"The Endpoints path includes the controller writing them.", c.fanoutPools, c.fanoutWatchers, c.fanoutPools*c.fanoutWatchers, c.fanoutChanges),
		[]string{"form", "deliveries", "p50 per watcher", "p99 per watcher", "p50 all of a pool", "p99 all of a pool", "p50 / Endpoints p50"}, rows,
		"Goal: view direct ≤ 1.0× kube-apiserver serving the Endpoints.")
	return nil
}

func (e *env) fanoutForm(ctx context.Context, prefix string, fm form, seed int) (samples, perChange []time.Duration, err error) {
	c := e.cfg
	tr, err := newTransports(fm.cfg, 200)
	if err != nil {
		return nil, nil, err
	}
	defer tr.close()
	var mu sync.Mutex
	marker := "" // the leader address of the change being timed
	var start time.Time
	received := map[int]time.Duration{}
	var watchers []*streamWatch
	for p := 0; p < c.fanoutPools; p++ {
		for w := 0; w < c.fanoutWatchers; w++ {
			id := p*c.fanoutWatchers + w
			watchers = append(watchers, openWatch(ctx, tr.client(), fm.url(poolName(prefix, p)), func(typ string, obj []byte, at time.Time) {
				mu.Lock()
				defer mu.Unlock()
				if marker != "" && bytes.Contains(obj, []byte(`"`+marker+`"`)) {
					if _, seen := received[id]; !seen {
						received[id] = at.Sub(start)
					}
				}
			}))
		}
	}
	defer stopAll(watchers)
	if failed, err := waitEstablished(watchers, 2*time.Minute); failed > 0 {
		return nil, nil, fmt.Errorf("%d watches failed: %v", failed, err)
	}
	time.Sleep(2 * time.Second) // initial events of legacy watches are in
	for i := 0; i < c.fanoutChanges; i++ {
		p := (i * 7) % c.fanoutPools
		ip := fmt.Sprintf("10.%d.%d.%d", 200+seed, i/250, i%250+1)
		mu.Lock()
		marker, start, received = ip, time.Now(), map[int]time.Duration{}
		mu.Unlock()
		if err := e.setLeaders(ctx, poolName(prefix, p), []appsv1beta2.Leader{{NodeName: "fanout-leader", Address: ip}}); err != nil {
			return nil, nil, err
		}
		err := waitFor(ctx, time.Minute, "every watcher of the pool receiving the change", func(context.Context) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			return len(received) >= c.fanoutWatchers, nil
		})
		if err != nil {
			return nil, nil, err
		}
		mu.Lock()
		var worst time.Duration
		for _, d := range received {
			samples = append(samples, d)
			worst = max(worst, d)
		}
		perChange = append(perChange, worst)
		marker = ""
		mu.Unlock()
	}
	return samples, perChange, nil
}

// memoryPerWatcher: RSS growth of leaderhub per idle watcher of the view,
// against kube-apiserver's per idle Endpoints watcher, both served directly.
func (e *env) memoryPerWatcher(ctx context.Context) error {
	c := e.cfg
	const prefix = "fo" // the fan-out pools; created if the fan-out scenario did not run
	if _, err := e.pools.AppsV1beta2().NodePools().Get(ctx, poolName(prefix, 0), metav1.GetOptions{}); err != nil {
		if err := e.createPools(ctx, prefix, c.fanoutPools); err != nil {
			return err
		}
		if err := e.waitPublished(ctx, prefix, c.fanoutPools, 5*time.Minute); err != nil {
			return err
		}
	}
	warm := max(1, c.memoryWatchers/5)
	added := float64(c.memoryWatchers - warm)
	type reading struct {
		footprint
		rss float64
	}
	// read reads the server's Go footprint, then its RSS once it settles.
	read := func(pid int, cfg *rest.Config, profile string) (reading, error) {
		f, err := goFootprint(ctx, cfg, profile)
		return reading{footprint: f, rss: float64(settledRSS(pid))}, err
	}
	// measure opens a warm-up fifth of the watches (it also opens the
	// connections and warms the server's buffer pools), reads the server,
	// opens the rest and reads it again: the slope is what one more watch
	// costs.
	measure := func(pid int, cfg *rest.Config, url func(string) string, profile string) (perWatch reading, err error) {
		tr, err := newTransports(cfg, 200)
		if err != nil {
			return reading{}, err
		}
		defer tr.close()
		var ws []*streamWatch
		defer func() { stopAll(ws) }()
		open := func(from, to int) error {
			for i := from; i < to; i++ {
				ws = append(ws, openWatch(ctx, tr.client(), url(poolName(prefix, i%c.fanoutPools)), nil))
			}
			if failed, err := waitEstablished(ws, 2*time.Minute); failed > 0 {
				return fmt.Errorf("%d watches failed: %v", failed, err)
			}
			return nil
		}
		if err := open(0, warm); err != nil {
			return reading{}, err
		}
		before, err := read(pid, cfg, profile+"-warm.pb.gz")
		if err != nil {
			return reading{}, err
		}
		if err := open(warm, c.memoryWatchers); err != nil {
			return reading{}, err
		}
		after, err := read(pid, cfg, profile+".pb.gz")
		return reading{footprint: after.footprint.minus(before.footprint).per(added), rss: (after.rss - before.rss) / added}, err
	}
	const lhProfile, apiProfile = "_output/bench-heap-watchers-leaderhub", "_output/bench-heap-watchers-kube-apiserver"
	lh, err := measure(e.lh.Process.PID, e.direct, func(p string) string { return leaderHubWatchURL(e.direct.Host, p, "") }, lhProfile)
	if err != nil {
		return err
	}
	api, err := measure(e.cp.APIServer.PID, e.admin, func(p string) string { return endpointsWatchURL(e.admin.Host, p, "") }, apiProfile)
	if err != nil {
		return err
	}
	row := func(server string, r reading) []string {
		return []string{server, kib(r.heap), ratio(r.heap, api.heap), kib(r.stacks), fmt.Sprintf("%.2f", r.goroutines), kib(r.rss), ratio(r.rss, api.rss)}
	}
	e.report.section("3. Memory per idle watcher",
		fmt.Sprintf("Idle, name-selected watches opened directly on each server (HTTP/2, 200 streams per connection) in two batches: "+
			"%d, then %d more. Per watcher is the growth between the two batches divided by the second: each server's Go heap in use "+
			"after two forced GCs, its goroutines and their stacks, and its RSS once it settles. The first batch opens the connections "+
			"and warms the servers' buffer pools, so the slope is what one more watch costs.", warm, c.memoryWatchers-warm),
		[]string{"server", "heap per watcher", "heap ratio", "goroutine stacks per watcher", "goroutines per watcher", "RSS per watcher", "RSS ratio"},
		[][]string{row("leaderhub-apiserver (view)", lh), row("kube-apiserver (Endpoints)", api)},
		"Goal: ≤ 10 KiB per watcher.",
		fmt.Sprintf("Where leaderhub's goes: the heap profile with all %d watches minus the one after the first %d "+
			"(`go tool pprof -top -sample_index=inuse_space -diff_base`, largest first):\n\n```\n", c.memoryWatchers, warm)+
			pprofTop(lhProfile+".pb.gz", 14, "-diff_base", lhProfile+"-warm.pb.gz")+"```")
	return nil
}

// aggregator: concurrent watches of the view through kube-apiserver's
// aggregation layer, one client connection each, all on one pool; every
// watch must be established and receive one change.
func (e *env) aggregator(ctx context.Context) error {
	const prefix = "ag"
	if err := e.createPools(ctx, prefix, 1); err != nil {
		return err
	}
	if err := e.waitPublished(ctx, prefix, 1, time.Minute); err != nil {
		return err
	}
	var rows [][]string
	largest := 0
	for i, step := range strings.Split(e.cfg.aggregatorSteps, ",") {
		var n int
		if _, err := fmt.Sscan(step, &n); err != nil || n <= 0 {
			return fmt.Errorf("bad -aggregator-steps entry %q", step)
		}
		row, ok, err := e.aggregatorStep(ctx, prefix, n, i)
		if err != nil {
			return err
		}
		rows = append(rows, row)
		if !ok {
			break
		}
		largest = n
	}
	e.report.section("4. Watches through the aggregation layer",
		fmt.Sprintf("Steps %s: that many concurrent watches of one LeaderHub through kube-apiserver, each on its own TLS connection; "+
			"then one leader change. leaderhub's Go heap (after two forced GCs) and goroutines are read before and after each step's "+
			"watches are established.", e.cfg.aggregatorSteps),
		[]string{"watches", "established", "received the change", "dropped", "leaderhub heap per proxied watch",
			"goroutine stacks per proxied watch", "goroutines per proxied watch", "time to establish"}, rows,
		fmt.Sprintf("Largest count that held: %d.", largest))
	return nil
}

func (e *env) aggregatorStep(ctx context.Context, prefix string, n, step int) ([]string, bool, error) {
	tr, err := newTransports(e.admin, 1)
	if err != nil {
		return nil, false, err
	}
	marker := fmt.Sprintf("10.250.%d.1", step)
	var got atomic.Int64
	before, err := goFootprint(ctx, e.direct, "")
	if err != nil {
		return nil, false, err
	}
	start := time.Now()
	ws := make([]*streamWatch, 0, n)
	clients := make([]*http.Client, 0, n)
	for i := 0; i < n; i++ {
		cl := tr.client()
		clients = append(clients, cl)
		ws = append(ws, openWatch(ctx, cl, leaderHubWatchURL(e.admin.Host, poolName(prefix, 0), ""), func(typ string, obj []byte, _ time.Time) {
			if bytes.Contains(obj, []byte(`"`+marker+`"`)) {
				got.Add(1)
			}
		}))
		if i%100 == 99 {
			time.Sleep(50 * time.Millisecond) // pace the TLS handshakes
		}
	}
	defer func() {
		stopAll(ws)
		for _, cl := range clients {
			cl.CloseIdleConnections()
		}
	}()
	failed, _ := waitEstablished(ws, 5*time.Minute)
	established := n - failed
	took := time.Since(start)
	after, err := goFootprint(ctx, e.direct, "")
	if err != nil {
		return nil, false, err
	}
	if err := e.setLeaders(ctx, poolName(prefix, 0), []appsv1beta2.Leader{{NodeName: "agg-leader", Address: marker}}); err != nil {
		return nil, false, err
	}
	_ = waitFor(ctx, 2*time.Minute, "every watch receiving the change", func(context.Context) (bool, error) {
		return got.Load() >= int64(established), nil
	})
	dropped := 0
	for _, w := range ws {
		select {
		case <-w.done:
			dropped++
		default:
		}
	}
	per := after.minus(before).per(float64(max(established, 1)))
	ok := established == n && got.Load() == int64(n) && dropped == 0
	return []string{fmt.Sprint(n), fmt.Sprint(established), fmt.Sprint(got.Load()), fmt.Sprint(dropped),
		kib(per.heap), kib(per.stacks), fmt.Sprintf("%.2f", per.goroutines), took.Round(time.Second).String()}, ok, nil
}

// throughput: GET and name-selected LIST of one pool's object, the view
// served directly against kube-apiserver serving the Endpoints.
func (e *env) throughput(ctx context.Context) error {
	c := e.cfg
	const prefix = "tp"
	if err := e.createPools(ctx, prefix, 1); err != nil {
		return err
	}
	if err := e.waitPublished(ctx, prefix, 1, time.Minute); err != nil {
		return err
	}
	name := v1alpha1.ObjectName(poolName(prefix, 0))
	view := versionedFor(e.direct).LeaderhubV1alpha1().LeaderHubs(ns)
	eps := e.kube.CoreV1().Endpoints(ns)
	sel := metav1.ListOptions{FieldSelector: "metadata.name=" + name}
	measure := func(req func() error) (float64, error) {
		start := time.Now()
		err := parallel(c.throughputRequests, c.throughputConcurrency, func(int) error { return req() })
		return float64(c.throughputRequests) / time.Since(start).Seconds(), err
	}
	type pair struct {
		what       string
		view, kube func() error
	}
	var rows [][]string
	for _, p := range []pair{
		{"GET", func() error { _, err := view.Get(ctx, name, metav1.GetOptions{}); return err },
			func() error { _, err := eps.Get(ctx, name, metav1.GetOptions{}); return err }},
		{"LIST by name", func() error { _, err := view.List(ctx, sel); return err },
			func() error { _, err := eps.List(ctx, sel); return err }},
	} {
		v, err := measure(p.view)
		if err != nil {
			return err
		}
		k, err := measure(p.kube)
		if err != nil {
			return err
		}
		rows = append(rows, []string{p.what, fmt.Sprintf("%.0f req/s", v), fmt.Sprintf("%.0f req/s", k), ratio(v, k)})
	}
	e.report.section("5. GET/LIST throughput of one pool's object",
		fmt.Sprintf("%d requests per form, %d concurrent, same client (client-go, JSON, QPS limit off), served directly.", c.throughputRequests, c.throughputConcurrency),
		[]string{"request", "view (leaderhub)", "Endpoints (kube-apiserver)", "view / Endpoints"}, rows,
		"Goal: ≥ 1.0×.")
	return nil
}

// memorySnapshot is leaderhub's memory at one point of scenario 6.
type memorySnapshot struct {
	rss   rssParts
	heap  float64 // Go heap in use after two forced GCs
	goMem map[string]float64
}

// snapshot measures leaderhub's memory: two forced GCs (the first moves
// sync.Pool caches to their victim cache, the second frees them), the heap in
// use, then the RSS once it settles and the Go runtime's figures. The heap is
// read while the controller is idle, and read again if a sync ran meanwhile
// (a resync syncs every pool), so that it holds the pools, not a sync's
// garbage.
func (e *env) snapshot(ctx context.Context, profile string) (memorySnapshot, error) {
	var m memorySnapshot
	for attempt := 1; ; attempt++ {
		syncs, err := e.waitControllerIdle(ctx)
		if err != nil {
			return m, err
		}
		f, err := goFootprint(ctx, e.direct, profile)
		if err != nil {
			return m, err
		}
		m.heap = f.heap
		metrics, err := e.scrape(ctx)
		if err != nil {
			return m, err
		}
		if metricSum(metrics, "leaderhub_controller_syncs_total", "") == syncs || attempt == 5 {
			break
		}
	}
	var err error
	m.rss = settledRSSParts(e.lh.Process.PID)
	m.goMem, err = e.goMemory(ctx)
	return m, err
}

// waitControllerIdle waits until the controller's queue is empty and no pool
// is being synced, and returns how many syncs it has done.
func (e *env) waitControllerIdle(ctx context.Context) (float64, error) {
	const queue = `name="leaderhub_materialize"`
	var syncs float64
	err := waitFor(ctx, 5*time.Minute, "the controller to be idle", func(ctx context.Context) (bool, error) {
		metrics, err := e.scrape(ctx)
		if err != nil {
			return false, nil
		}
		syncs = metricSum(metrics, "leaderhub_controller_syncs_total", "")
		return metricSum(metrics, "workqueue_depth", queue) == 0 &&
			metricSum(metrics, "workqueue_unfinished_work_seconds", queue) == 0, nil
	})
	return syncs, err
}

// controllerScale: many pools created at once; time until every Endpoints
// exists, API requests per pool, writes during a resync with no change, and
// leaderhub's memory per pool. The pools come in two batches, a warm-up
// quarter and the rest, so memory is measured empty, warm and full: what one
// more pool costs is the slope between warm and full, free of the one-time
// costs the first pools pay (code paths read from the binary, tables built
// lazily, buffer pools) and of the fixed-size watch history, which the
// warm-up fills (each pool makes two events, so the 2,500 pools of a 10,000
// pool run make more than the history's 4,096).
func (e *env) controllerScale(ctx context.Context) error {
	c := e.cfg
	const prefix = "cs"
	warm := max(1, c.controllerPools/4)
	metricsBefore, err := e.scrape(ctx)
	if err != nil {
		return err
	}
	empty, err := e.snapshot(ctx, "")
	if err != nil {
		return err
	}
	batch := func(from, to int) (created, published time.Duration, err error) {
		start := time.Now()
		if err := e.createPoolRange(ctx, prefix, from, to); err != nil {
			return 0, 0, err
		}
		created = time.Since(start)
		err = e.waitPublished(ctx, prefix, to, 15*time.Minute)
		return created, time.Since(start), err
	}
	warmCreated, warmPublished, err := batch(0, warm)
	if err != nil {
		return err
	}
	warmed, err := e.snapshot(ctx, "_output/bench-heap-"+prefix+"-warm.pb.gz")
	if err != nil {
		return err
	}
	restCreated, restPublished, err := batch(warm, c.controllerPools)
	if err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	metricsSettled, err := e.scrape(ctx)
	if err != nil {
		return err
	}
	requests := metricSum(metricsSettled, "rest_client_requests_total", "") - metricSum(metricsBefore, "rest_client_requests_total", "")
	writes := metricSum(metricsSettled, "leaderhub_controller_writes_total", "") - metricSum(metricsBefore, "leaderhub_controller_writes_total", "")
	full, err := e.snapshot(ctx, "_output/bench-heap-"+prefix+".pb.gz")
	if err != nil {
		return err
	}

	// A window with at least one full resync and nothing changed.
	window := c.controllerResync + 10*time.Second
	metricsIdle, err := e.scrape(ctx)
	if err != nil {
		return err
	}
	pid := e.lh.Process.PID
	cpuIdle, err := cpuSeconds(pid)
	if err != nil {
		return err
	}
	syncsBefore := metricSum(metricsIdle, "leaderhub_controller_syncs_total", "")
	writesBefore := metricSum(metricsIdle, "leaderhub_controller_writes_total", "")
	requestsBefore := metricSum(metricsIdle, "rest_client_requests_total", "")
	time.Sleep(window)
	metricsResync, err := e.scrape(ctx)
	if err != nil {
		return err
	}
	cpuResync, err := cpuSeconds(pid)
	if err != nil {
		return err
	}
	resyncSyncs := metricSum(metricsResync, "leaderhub_controller_syncs_total", "") - syncsBefore
	resyncWrites := metricSum(metricsResync, "leaderhub_controller_writes_total", "") - writesBefore
	resyncRequests := metricSum(metricsResync, "rest_client_requests_total", "") - requestsBefore
	n := float64(c.controllerPools)
	rest := c.controllerPools - warm
	e.report.section("6. Controller scale",
		fmt.Sprintf("%d NodePools created (create + status, 16 at a time) with two leaders each, in two batches: %d, then %d "+
			"once the first were published (scenario 7 measures memory between them); controller with 4 workers; resync period %v; "+
			"leaderhub's GC target: %s.", c.controllerPools, warm, rest, c.controllerResync, gcSetting()),
		[]string{"measure", "value"},
		[][]string{
			{"NodePools written (create + status)", (warmCreated + restCreated).Round(time.Second).String()},
			{"until every LeaderHub and Endpoints existed (both batches)", (warmPublished + restPublished).Round(time.Second).String()},
			{fmt.Sprintf("… of which the batch of %d", rest), restPublished.Round(time.Second).String()},
			{"Endpoints written per pool", fmt.Sprintf("%.2f", writes/n)},
			{"API requests per pool (leaderhub's client, all kinds)", fmt.Sprintf("%.2f", requests/n)},
			{fmt.Sprintf("pools synced in %v with nothing changed (a resync syncs all %d)", window, c.controllerPools), fmt.Sprintf("%.0f", resyncSyncs)},
			{"… API writes", fmt.Sprintf("%.0f", resyncWrites)},
			{"… API requests", fmt.Sprintf("%.0f", resyncRequests)},
			{"… leaderhub CPU time", fmt.Sprintf("%.1fs (%.0f µs per pool synced)", cpuResync-cpuIdle, (cpuResync-cpuIdle)/max(resyncSyncs, 1)*1e6)},
		},
		"Goal: 0 writes in a resync with no change.")

	row := func(label string, value func(memorySnapshot) float64) []string {
		return []string{label, kib(value(empty)), kib(value(warmed)), kib(value(full)),
			fmt.Sprintf("%.2f KiB", (value(full)-value(empty))/n/1024),
			fmt.Sprintf("**%.2f KiB**", (value(full)-value(warmed))/float64(rest)/1024)}
	}
	rows := [][]string{
		row("RSS", func(m memorySnapshot) float64 { return float64(m.rss.total) }),
		row("… anonymous (Go heap, stacks, runtime)", func(m memorySnapshot) float64 { return float64(m.rss.anon) }),
		row("… file-backed (the binary's pages read so far)", func(m memorySnapshot) float64 { return float64(m.rss.file) }),
		row("Go heap in use after two forced GCs", func(m memorySnapshot) float64 { return m.heap }),
		row("peak RSS so far (VmHWM)", func(m memorySnapshot) float64 { return float64(m.rss.peak) }),
	}
	for _, gm := range goMemoryMetrics {
		rows = append(rows, row(gm.label, func(m memorySnapshot) float64 { return m.goMem[gm.metric] }))
	}
	e.report.section("7. Server memory per pool",
		fmt.Sprintf("leaderhub-apiserver empty, after the first %d pools of scenario 6 and after all %d: the view, the controller's "+
			"digests of the Endpoints, its workqueue, the node cache.", warm, c.controllerPools),
		[]string{"measure", "empty", fmt.Sprintf("%d pools", warm), fmt.Sprintf("%d pools", c.controllerPools),
			fmt.Sprintf("per pool, 0 → %d", c.controllerPools), fmt.Sprintf("per pool, %d → %d", warm, c.controllerPools)},
		rows,
		fmt.Sprintf("RSS divided by all pools, not just the growth: %.2f KiB per pool.", float64(full.rss.total)/n/1024),
		fmt.Sprintf("The last column is what one more pool costs; the one before it also carries what the first pools pay once "+
			"(code paths read from the binary, tables built lazily, buffer pools) and the watch history, a ring of the last %d "+
			"view events that the first batch fills (two per pool). Heap readings are taken while the controller is idle. ",
			viewstore.DefaultHistorySize)+
			fmt.Sprintf("RSS is read once it has been still for 3s. The Go runtime lets the heap grow by GOGC percent over the live "+
				"heap before it collects (%s), keeps about 10%% over the heap in use when it returns freed pages, and returns "+
				"them at a paced rate; with every pool resynced every %v the heap keeps cycling up to its goal, so the RSS growth "+
				"follows the GC goal's growth (plus the runtime's own tables), not the heap in use. The peak row is the "+
				"high-water mark, reached while the pools were created.", gcSetting(), c.controllerResync),
		"Goal: ≤ 2 KiB per pool.",
		fmt.Sprintf("Where the %d pools after the first %d go (heap profile with all pools minus the one after the first, "+
			"`go tool pprof -top -sample_index=inuse_space -diff_base`, largest first):\n\n```\n", rest, warm)+
			pprofTop("_output/bench-heap-"+prefix+".pb.gz", 14, "-diff_base", "_output/bench-heap-"+prefix+"-warm.pb.gz")+"```")
	return nil
}

// goMemoryMetrics are the Go runtime's memory figures scenario 7 reports.
var goMemoryMetrics = []struct{ metric, label string }{
	{"go_memstats_heap_sys_bytes", "Go heap obtained from the OS"},
	{"go_memstats_heap_released_bytes", "… of which returned to the OS"},
	{"go_memstats_next_gc_bytes", "heap size of the next GC (the GC's goal)"},
	{"go_memstats_stack_inuse_bytes", "goroutine stacks"},
}

// goMemory reads leaderhub's Go runtime memory figures from /metrics.
func (e *env) goMemory(ctx context.Context) (map[string]float64, error) {
	metrics, err := e.scrape(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, m := range goMemoryMetrics {
		out[m.metric] = metricSum(metrics, m.metric, "")
	}
	return out, nil
}

// gcSetting says which GC target leaderhub runs with: the bench passes its
// environment on.
func gcSetting() string {
	if v, set := os.LookupEnv("GOGC"); set {
		return "GOGC=" + v + " from the environment"
	}
	return fmt.Sprintf("GOGC=%d, its default (GOGC unset)", server.DefaultGCPercent)
}

// footprint is an API server's Go memory: its heap in use after two
// forced GCs, its goroutines and their stacks.
type footprint struct{ heap, stacks, goroutines float64 }

func (f footprint) minus(g footprint) footprint {
	return footprint{f.heap - g.heap, f.stacks - g.stacks, f.goroutines - g.goroutines}
}

func (f footprint) per(n float64) footprint {
	return footprint{f.heap / n, f.stacks / n, f.goroutines / n}
}

// goFootprint forces two GCs in the server cfg reaches (the first moves
// sync.Pool caches to their victim cache, the second frees them), saves
// the heap profile to profile when set, and reads its footprint.
func goFootprint(ctx context.Context, cfg *rest.Config, profile string) (footprint, error) {
	if _, err := serverHeap(ctx, cfg, ""); err != nil {
		return footprint{}, err
	}
	heap, err := serverHeap(ctx, cfg, profile)
	if err != nil {
		return footprint{}, err
	}
	metrics, err := scrapeServer(ctx, cfg)
	return footprint{heap: heap, stacks: metricSum(metrics, "go_memstats_stack_inuse_bytes", ""),
		goroutines: metricSum(metrics, "go_goroutines", "")}, err
}

// pprofTop returns the first lines of `go tool pprof -top` for a profile.
func pprofTop(path string, lines int, flags ...string) string {
	args := append([]string{"tool", "pprof", "-top", "-sample_index=inuse_space"}, flags...)
	out, err := exec.Command("go", append(args, path)...).Output()
	if err != nil {
		return "(no profile: " + err.Error() + ")\n"
	}
	all := strings.Split(string(out), "\n")
	start := 0
	for i, l := range all {
		if strings.Contains(l, "flat%") {
			start = i
			break
		}
	}
	end := min(len(all), start+lines+1)
	return strings.Join(all[start:end], "\n") + "\n"
}
