package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/leaderhub/leaderhub/pkg/registry/leaderhub/viewstore"
	"github.com/leaderhub/leaderhub/pkg/server"
)

// memorySnapshot is leaderhub's memory at one point of scenario 6.
type memorySnapshot struct {
	rss   rssParts
	heap  float64 // Go heap in use after the forced GCs
	live  float64 // objects the last GC marked live
	goMem map[string]float64
}

// snapshot measures leaderhub's memory: forced GCs (goFootprint), the heap
// in use and what is alive in it, then the RSS once it settles and the Go runtime's figures. The heap is
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
		m.heap, m.live = f.heap, f.live
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
		row("… objects the last GC marked live (go_gc_heap_live_bytes)", func(m memorySnapshot) float64 { return m.live }),
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
			"view events that the first batch fills (two per pool). Heap readings are taken while the controller is idle. "+
			"The heap in use counts every span that holds a live object, its free slots too, and what was allocated "+
			"between the GC and the reading; the row below it is what the GC marked live, which varies less between runs. ",
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
