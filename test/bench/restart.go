package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	leaderhubv1alpha1 "github.com/leaderhub/leaderhub/client/generated/clientset/versioned/typed/leaderhub/v1alpha1"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	openyurtclient "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned"
	"github.com/leaderhub/leaderhub/test/framework"
)

// restart: leaderhub-apiserver restarted under 10,000 watches of the view
// through the aggregator, as an upgrade or a node drain does it. It runs on
// a control plane of its own, started with --enable-aggregator-routing so
// that replicas can be served through EndpointSlices as a Deployment's
// pods are. Two replicas are rolled twice, each replaced as a Deployment
// with maxSurge 1 does it (the new one ready, the old one out of the
// Service, then SIGTERM): once while leaders keep changing, once with no
// NodePool change at all during the roll. Then one replica is restarted
// alone: out of the Service, SIGTERM, the leaders of every pool changed
// while none serves, a new process started.
func (e *env) restart(ctx context.Context) error {
	r, err := e.newRestartRun(ctx)
	if err != nil {
		return err
	}
	defer r.stop()

	var rows [][]string
	row, err := r.roll(ctx, "with leader changes", 2, true)
	if err != nil {
		return err
	}
	rows = append(rows, row)
	if row, err = r.roll(ctx, "no NodePool change during it", 3, false); err != nil {
		return err
	}
	rows = append(rows, row)
	e.report.section("10. Rolling restarts under 10,000 watchers",
		fmt.Sprintf("Two leaderhub-apiserver replicas (the chart's --shutdown-delay-duration=%v, controllers on), served through "+
			"one EndpointSlice each behind kube-apiserver --enable-aggregator-routing. %d pools × %d watches of one LeaderHub each "+
			"through the aggregator, over %d HTTP/2 connections, each resuming from the last version it saw (bookmarks included) "+
			"and listing only on 410 Gone, as client-go's reflector does, with its back-off after a refused attempt. Each roll "+
			"replaces both replicas in turn: the new one started and ready, then the old one removed from the Service and sent "+
			"SIGTERM. The first roll runs while one pool's leaders change every %v; the second changes no NodePool while it runs "+
			"(kube-apiserver's version still moves on), then every pool's leaders once. Slowest delivery: from a change's write "+
			"to the last watcher of its pool receiving it.",
			e.cfg.restartShutdownDelay, r.pools, r.perPool, r.connections, restartChangeEvery),
		[]string{"roll", "watchers", "LISTs", "410 Gone", "watch resumptions", "resumption time p50, p99, max",
			"refused attempts (retried)", "changes", "changes missed", "slowest delivery", "SIGTERM → exit (each replica)",
			"CPU during the roll"}, rows)

	gap, err := r.singleReplica(ctx)
	if err != nil {
		return err
	}
	e.report.section("10b. One replica restarted",
		fmt.Sprintf("The same %d view watchers, and %d watches of the pools' Endpoints on kube-apiserver (%d per pool), with one "+
			"replica left, run with no shutdown delay. It is removed from the Service and sent SIGTERM; once it has exited, "+
			"every pool's leaders change; "+
			"then a new process starts (at once here; a kubelet or scheduler adds its own time) and is put in the Service when "+
			"ready. Times are from the SIGTERM.", len(r.watchers), len(r.endpoints), r.endpointsPerPool),
		[]string{"measure", "value"}, gap,
		"With one replica a gap is unavoidable, and the view's watchers list again: the new process starts from a list newer "+
			"than any version they hold, and cannot know what changed in between (a deleted pool leaves no trace), so it answers "+
			"their resumption 410 Gone (docs/design.md, \"Restarts and resumption\"). Two replicas (the chart's default) avoid both.")
	return nil
}

// restartChangeEvery is how often a pool's leaders change during the first roll.
const restartChangeEvery = 200 * time.Millisecond

// restartRun is the restart scenario's control plane, replicas and watchers.
type restartRun struct {
	e        *env // on the scenario's own control plane
	cp       *framework.ControlPlane
	args     []string
	replicas []*framework.LeaderHub
	started  []*framework.LeaderHub

	pools, perPool, connections, endpointsPerPool int
	watchers                                      []*framework.ResumingWatcher
	endpoints                                     []*streamWatch
	watching                                      context.CancelFunc
	running                                       sync.WaitGroup

	// changes are the leader changes made, in order.
	mu      sync.Mutex
	changes []restartChange
}

type restartChange struct {
	pool    string
	leaders string // as framework.LeaderHubLeaders puts it
	at      time.Time
}

func (e *env) newRestartRun(ctx context.Context) (*restartRun, error) {
	cp, err := framework.Start(ctx, framework.Options{Dir: filepath.Join(e.cp.Dir, "restart"), AggregatorRouting: true})
	if err != nil {
		return nil, err
	}
	r := &restartRun{cp: cp, pools: e.cfg.restartPools, perPool: e.cfg.restartWatchers / e.cfg.restartPools,
		endpointsPerPool: e.cfg.restartEndpointsWatchers / e.cfg.restartPools,
		args:             []string{"--shutdown-delay-duration=" + e.cfg.restartShutdownDelay.String(), "--v=1"}}
	if err := r.setUp(ctx, e); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

func (r *restartRun) setUp(ctx context.Context, e *env) error {
	if err := r.cp.InstallCRDs(ctx); err != nil {
		return err
	}
	admin, err := r.cp.RESTConfig()
	if err != nil {
		return err
	}
	admin.QPS, admin.Burst = 2000, 4000
	admin.WarningHandler = rest.NoWarnings{}
	r.e = &env{cfg: e.cfg, cp: r.cp, admin: admin, kube: kubernetes.NewForConfigOrDie(admin),
		pools: openyurtclient.NewForConfigOrDie(admin), report: e.report}
	for _, name := range []string{"leaderhub-restart-a", "leaderhub-restart-b"} {
		lh, err := r.start(ctx, name, true)
		if err != nil {
			return err
		}
		r.replicas = append(r.replicas, lh)
	}
	if err := r.cp.ServeReplicas(ctx, r.replicas...); err != nil {
		return err
	}
	if err := r.e.createPools(ctx, "rs", r.pools); err != nil {
		return err
	}

	// The watchers: one list per pool through the aggregator, which every
	// watcher of the pool starts from; 200 watches per connection.
	// Clients built with dialers of their own do not share client-go's
	// cached transport: each group of watchers gets its own connection.
	const streamsPerConnection = 200
	var client leaderhubv1alpha1.LeaderHubInterface
	for p := range r.pools {
		for range r.perPool {
			if len(r.watchers)%streamsPerConnection == 0 {
				cfg := rest.CopyConfig(admin)
				cfg.Dial = (&net.Dialer{}).DialContext
				client = versionedFor(cfg).LeaderhubV1alpha1().LeaderHubs(ns)
				r.connections++
			}
			r.watchers = append(r.watchers, framework.NewResumingWatcher(client, v1alpha1.ObjectName(poolName("rs", p))))
		}
	}
	view := versionedFor(admin).LeaderhubV1alpha1().LeaderHubs(ns)
	for p := range r.pools {
		name := v1alpha1.ObjectName(poolName("rs", p))
		var list *v1alpha1.LeaderHubList
		if err := waitFor(ctx, 2*time.Minute, "pool "+name+" in the view", func(ctx context.Context) (bool, error) {
			list, err = view.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
			return err == nil && len(list.Items) == 1 && len(list.Items[0].Subsets) > 0, nil
		}); err != nil {
			return err
		}
		for _, w := range r.watchers[p*r.perPool : (p+1)*r.perPool] {
			w.StartFrom(list)
		}
	}
	watchCtx, cancel := context.WithCancel(ctx)
	r.watching = cancel
	for _, w := range r.watchers {
		r.running.Go(func() { w.Run(watchCtx) })
	}
	return nil
}

func (r *restartRun) start(ctx context.Context, name string, wait bool, extra ...string) (*framework.LeaderHub, error) {
	args := append(slices.Clone(r.args), extra...) // the last of a repeated flag wins
	lh, err := r.cp.StartLeaderHub(ctx, framework.LeaderHubOptions{Name: name, Args: args, NoWait: !wait})
	if err != nil {
		return nil, err
	}
	r.started = append(r.started, lh)
	return lh, nil
}

func (r *restartRun) stop() {
	if r.watching != nil {
		r.watching()
		r.running.Wait()
	}
	stopAll(r.endpoints)
	for _, lh := range r.started {
		_ = lh.Process.Stop(30 * time.Second)
	}
	_ = r.cp.Stop()
}

// setLeaders changes a pool's leaders to one node and records the change.
func (r *restartRun) setLeaders(ctx context.Context, pool int, node, ip string) error {
	if err := r.e.setLeaders(ctx, poolName("rs", pool), []appsv1beta2.Leader{{NodeName: node, Address: ip}}); err != nil {
		return err
	}
	r.mu.Lock()
	r.changes = append(r.changes, restartChange{pool: v1alpha1.ObjectName(poolName("rs", pool)), leaders: node + "/" + ip, at: time.Now()})
	r.mu.Unlock()
	return nil
}

// changeEveryPool changes every pool's leaders once, to a node named after
// round.
func (r *restartRun) changeEveryPool(ctx context.Context, round string, octet int) error {
	return parallel(r.pools, 16, func(p int) error {
		return r.setLeaders(ctx, p, fmt.Sprintf("%s-%d", round, p), fmt.Sprintf("10.%d.%d.%d", octet, p/250, p%250+1))
	})
}

// watcherCounts sums the watchers' counters.
type watcherCounts struct {
	lists, gones, reconnects, failures int64
	reasons                            map[string]int
}

func (r *restartRun) counts() watcherCounts {
	c := watcherCounts{reasons: map[string]int{}}
	for _, w := range r.watchers {
		c.lists += w.Lists.Load()
		c.gones += w.Gones.Load()
		c.reconnects += w.Reconnects.Load()
		c.failures += w.Failures.Load()
		for reason, n := range w.FailureReasons() {
			c.reasons[reason] += n
		}
	}
	return c
}

func (c watcherCounts) minus(d watcherCounts) watcherCounts {
	out := watcherCounts{c.lists - d.lists, c.gones - d.gones, c.reconnects - d.reconnects, c.failures - d.failures, map[string]int{}}
	for reason, n := range c.reasons {
		if n -= d.reasons[reason]; n > 0 {
			out.reasons[reason] = n
		}
	}
	return out
}

// refusals says how many attempts were refused, and why.
func (c watcherCounts) refusals() string {
	if c.failures == 0 {
		return "0"
	}
	reasons := slices.Collect(maps.Keys(c.reasons))
	slices.SortFunc(reasons, func(a, b string) int { return cmp.Compare(c.reasons[b], c.reasons[a]) })
	parts := make([]string, 0, len(reasons))
	for _, reason := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", c.reasons[reason], reason))
	}
	return fmt.Sprintf("%d (%s)", c.failures, strings.Join(parts, "; "))
}

// resumeMarks notes how many resumptions each watcher has made so far.
func (r *restartRun) resumeMarks() []int {
	marks := make([]int, len(r.watchers))
	for i, w := range r.watchers {
		marks[i] = len(w.Resumes())
	}
	return marks
}

// resumesSince returns the resumptions made since marks, as p50, p99 and
// the slowest.
func (r *restartRun) resumesSince(marks []int) string {
	var all []time.Duration
	for i, w := range r.watchers {
		all = append(all, w.Resumes()[marks[i]:]...)
	}
	if len(all) == 0 {
		return "none"
	}
	return fmt.Sprintf("%s, %s, %s", ms(percentile(all, 0.5)), ms(percentile(all, 0.99)), ms(percentile(all, 1)))
}

// cpuUse is the CPU time the machine and the main processes have used.
type cpuUse struct {
	at                                           time.Time
	machine, apiserver, etcd, clients, leaderhub float64
}

func (r *restartRun) cpuNow() cpuUse {
	c := cpuUse{at: time.Now(), machine: machineBusySeconds()}
	c.apiserver, _ = cpuSeconds(r.cp.APIServer.PID)
	c.etcd, _ = cpuSeconds(r.cp.Etcd.PID)
	c.clients, _ = cpuSeconds(os.Getpid())
	for _, lh := range r.started { // an exited replica's total stays put
		d, _ := lh.Process.CPUTime()
		c.leaderhub += d.Seconds()
	}
	return c
}

// since says where the CPU went since c: the machine's busy time against
// the wall time of its cores, and what kube-apiserver, the leaderhub
// replicas, the watchers (this process), etcd and the rest (the harness's
// builds and helm, the other control plane) used.
func (c cpuUse) since(r *restartRun) string {
	now := r.cpuNow()
	wall := now.at.Sub(c.at).Seconds()
	machine := now.machine - c.machine
	apiserver, leaderhub := now.apiserver-c.apiserver, now.leaderhub-c.leaderhub
	clients, etcd := now.clients-c.clients, now.etcd-c.etcd
	return fmt.Sprintf("%.0f of %.0f core-seconds busy: kube-apiserver %.0f, leaderhub %.0f, watchers %.0f, etcd %.0f, the rest %.0f",
		machine, wall*float64(runtime.NumCPU()), apiserver, leaderhub, clients, etcd, machine-apiserver-leaderhub-clients-etcd)
}

// delivered waits, up to a minute, until every view watcher has every change
// from the index from on, then returns the slowest delivery and how many
// (watcher, change) pairs never arrived.
func (r *restartRun) delivered(ctx context.Context, from int) (time.Duration, int) {
	r.mu.Lock()
	changes := append([]restartChange(nil), r.changes[from:]...)
	r.mu.Unlock()
	byPool := map[string][]restartChange{}
	for _, c := range changes {
		byPool[c.pool] = append(byPool[c.pool], c)
	}
	var slowest time.Duration
	missed := 0
	_ = waitFor(ctx, time.Minute, "every change at every view watcher", func(context.Context) (bool, error) {
		slowest, missed = 0, 0
		for _, w := range r.watchers {
			for _, c := range byPool[w.Name] {
				at, ok := w.SeenAt(c.leaders)
				if !ok {
					missed++
					continue
				}
				slowest = max(slowest, at.Sub(c.at))
			}
		}
		return missed == 0, nil
	})
	return slowest, missed
}

// roll replaces each replica in turn, as a Deployment with maxSurge 1 and
// maxUnavailable 0 does, while leaders change (changing) or not.
func (r *restartRun) roll(ctx context.Context, name string, generation int, changing bool) ([]string, error) {
	before, marks, cpu := r.counts(), r.resumeMarks(), r.cpuNow()
	r.mu.Lock()
	from := len(r.changes)
	r.mu.Unlock()
	writing, stopWriting := context.WithCancel(ctx)
	written := make(chan error, 1)
	go func() {
		if !changing {
			written <- nil
			return
		}
		for n := 0; ; n++ {
			select {
			case <-writing.Done():
				written <- nil
				return
			case <-time.After(restartChangeEvery):
			}
			if err := r.setLeaders(ctx, n%r.pools, fmt.Sprintf("roll%d-%d", generation, n),
				fmt.Sprintf("10.%d.%d.%d", 100+generation, n/250%250, n%250+1)); err != nil {
				written <- err
				return
			}
		}
	}()
	var exits []string
	for i, old := range r.replicas {
		var extra []string
		if generation == 3 && i == 0 {
			// The replica restarted alone at the end (singleReplica): no
			// shutdown delay, so its exit shows the shutdown's own time.
			extra = []string{"--shutdown-delay-duration=0s"}
		}
		next, err := r.start(ctx, fmt.Sprintf("leaderhub-restart-%c%d", 'a'+i, generation), true, extra...)
		if err != nil {
			stopWriting()
			return nil, err
		}
		if err := r.cp.AddReplica(ctx, next); err != nil {
			stopWriting()
			return nil, err
		}
		if err := r.cp.RemoveReplica(ctx, old); err != nil {
			stopWriting()
			return nil, err
		}
		sigterm := time.Now()
		if err := old.Process.Stop(30 * time.Second); err != nil {
			stopWriting()
			return nil, fmt.Errorf("SIGTERM to %s: %w", old.Process.Name, err)
		}
		exits = append(exits, time.Since(sigterm).Round(10*time.Millisecond).String())
		r.replicas[i] = next
	}
	stopWriting()
	if err := <-written; err != nil {
		return nil, err
	}
	if !changing {
		if err := r.changeEveryPool(ctx, fmt.Sprintf("roll%d", generation), 100+generation); err != nil {
			return nil, err
		}
	}
	slowest, missed := r.delivered(ctx, from)
	c := r.counts().minus(before)
	r.mu.Lock()
	changes := len(r.changes) - from
	r.mu.Unlock()
	return []string{name, fmt.Sprint(len(r.watchers)), fmt.Sprint(c.lists), fmt.Sprint(c.gones), fmt.Sprint(c.reconnects),
		r.resumesSince(marks), c.refusals(), fmt.Sprint(changes), fmt.Sprint(missed), ms(slowest),
		fmt.Sprintf("%s, %s", exits[0], exits[1]), cpu.since(r)}, nil
}

// singleReplica takes the Service down to one replica, opens the Endpoints
// watches, and restarts that replica alone.
func (r *restartRun) singleReplica(ctx context.Context) ([][]string, error) {
	last := r.replicas[1]
	if err := r.cp.RemoveReplica(ctx, last); err != nil {
		return nil, err
	}
	if err := last.Process.Stop(30 * time.Second); err != nil {
		return nil, err
	}
	r.replicas = r.replicas[:1]
	only := r.replicas[0]

	// The Endpoints watchers, on kube-apiserver, each noting when its
	// pool's new leader reached it.
	tr, err := newTransports(r.e.admin, 200)
	if err != nil {
		return nil, err
	}
	defer tr.close()
	const octet = 120
	seen := make([]time.Time, r.pools*r.endpointsPerPool)
	var seenMu sync.Mutex
	open := func(i int) *streamWatch {
		p := i / r.endpointsPerPool
		marker := []byte(fmt.Sprintf(`"10.%d.%d.%d"`, octet, p/250, p%250+1))
		return openWatch(ctx, tr.client(), endpointsWatchURL(r.e.admin.Host, poolName("rs", p), ""),
			func(_ string, obj []byte, at time.Time) {
				if bytes.Contains(obj, marker) {
					seenMu.Lock()
					if seen[i].IsZero() {
						seen[i] = at
					}
					seenMu.Unlock()
				}
			})
	}
	// Opened 100 at a time, as the other scenarios pace them; one refused
	// (kube-apiserver answers EOF to a few when many arrive at once on a
	// 2-core machine) is opened again, as a client would.
	r.endpoints = make([]*streamWatch, len(seen))
	pending := make([]int, len(seen))
	for i := range pending {
		pending[i] = i
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == 3 {
			return nil, fmt.Errorf("%d of %d Endpoints watches not established after %d attempts: %w",
				len(pending), len(seen), attempt, r.endpoints[pending[0]].err)
		}
		for n, i := range pending {
			r.endpoints[i] = open(i)
			if n%100 == 99 {
				time.Sleep(50 * time.Millisecond)
			}
		}
		_, _ = waitEstablished(r.endpoints, 5*time.Minute)
		var failed []int
		for _, i := range pending {
			if r.endpoints[i].err != nil {
				failed = append(failed, i)
			}
		}
		pending = failed
	}
	// The scale-down's resumptions done: every watch open on the replica.
	if err := waitFor(ctx, 2*time.Minute, "every view watcher watching again", func(context.Context) (bool, error) {
		for _, w := range r.watchers {
			if !w.Watching() {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		return nil, err
	}
	before, marks, cpu := r.counts(), r.resumeMarks(), r.cpuNow()
	r.mu.Lock()
	from := len(r.changes)
	r.mu.Unlock()

	if err := r.cp.RemoveReplica(ctx, only); err != nil {
		return nil, err
	}
	sigterm := time.Now()
	if err := only.Process.Stop(30 * time.Second); err != nil {
		return nil, err
	}
	exited := time.Since(sigterm)
	if err := r.changeEveryPool(ctx, "single", octet); err != nil {
		return nil, err
	}
	changed := time.Since(sigterm)
	next, err := r.start(ctx, "leaderhub-restart-single", false)
	if err != nil {
		return nil, err
	}
	started := time.Since(sigterm)
	if err := next.WaitReady(ctx); err != nil {
		return nil, err
	}
	ready := time.Since(sigterm)
	if err := r.cp.AddReplica(ctx, next); err != nil {
		return nil, err
	}
	r.replicas[0] = next
	slowest, missed := r.delivered(ctx, from)
	var endpointsAll time.Duration
	endpointsMissed := 0
	_ = waitFor(ctx, time.Minute, "the change at every Endpoints watcher", func(context.Context) (bool, error) {
		seenMu.Lock()
		defer seenMu.Unlock()
		endpointsAll, endpointsMissed = 0, 0
		for _, at := range seen {
			if at.IsZero() {
				endpointsMissed++
				continue
			}
			endpointsAll = max(endpointsAll, at.Sub(sigterm))
		}
		return endpointsMissed == 0, nil
	})
	viewLast := r.lastSeen(from).Sub(sigterm)
	c := r.counts().minus(before)
	round := func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
	return [][]string{
		{"SIGTERM → the process exited (no shutdown delay, every watch open)", round(exited)},
		{"→ every pool's leaders changed (none serving)", round(changed)},
		{"→ the new process started", round(started)},
		{"→ the new process ready (/readyz 200)", round(ready)},
		{"→ every view watcher has its pool's change", round(viewLast)},
		{"→ every Endpoints watcher has its pool's change", round(endpointsAll)},
		{"view watchers: LISTs, 410 Gone, watch resumptions, refused attempts", fmt.Sprintf("%d, %d, %d, %s", c.lists, c.gones, c.reconnects, c.refusals())},
		{"resumption time (watch ended → watching again) p50, p99, max", r.resumesSince(marks)},
		{"CPU from the SIGTERM on", cpu.since(r)},
		{"changes missed (view, Endpoints)", fmt.Sprintf("%d, %d", missed, endpointsMissed)},
		{"slowest view delivery from the change's write", ms(slowest)},
	}, nil
}

// lastSeen is when the last view watcher received its pool's change made
// from the change index from on.
func (r *restartRun) lastSeen(from int) time.Time {
	r.mu.Lock()
	changes := append([]restartChange(nil), r.changes[from:]...)
	r.mu.Unlock()
	byPool := map[string]restartChange{}
	for _, c := range changes {
		byPool[c.pool] = c
	}
	var last time.Time
	for _, w := range r.watchers {
		if at, ok := w.SeenAt(byPool[w.Name].leaders); ok && at.After(last) {
			last = at
		}
	}
	return last
}
