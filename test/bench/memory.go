package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// memoryPerWatcher: RSS growth of leaderhub per idle watcher of the view,
// against kube-apiserver's per idle Endpoints watcher, both served directly.
func (e *env) memoryPerWatcher(ctx context.Context) error {
	c := e.cfg
	const prefix = "fo" // the fan-out pools; created if the fan-out scenario did not run
	if _, err := e.pools.AppsV1beta2().NodePools().Get(ctx, poolName(prefix, 0), metav1.GetOptions{}); err != nil {
		if err := e.publishPools(ctx, prefix, c.fanoutPools, 5*time.Minute); err != nil {
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
		// Paced and retried once, as in scenario 4 (openPaced): 200
		// watches share a connection, so a batch is one connection.
		open := func(from, to int) error {
			opened, retried, why := openPaced(from, to, 200, 2*time.Minute, func(i int) *streamWatch {
				return openWatch(ctx, tr.client(), url(poolName(prefix, i%c.fanoutPools)), nil)
			})
			ws = append(ws, opened...)
			if retried > 0 {
				fmt.Fprintf(os.Stderr, "memory: %s: %d watches opened again after: %v\n", profile, retried, why)
			}
			if failed, err := waitEstablished(ws, 2*time.Minute); failed > 0 {
				return fmt.Errorf("%s: %d of %d watches failed: %w", profile, failed, len(ws), err)
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

// footprint is an API server's Go memory after two forced GCs: its
// heap in use when read (the spans holding any object: what the heap
// costs, with what was allocated between the last GC and the reading), the
// objects the last GC marked live (the runtime's /gc/heap/live:bytes: no
// free slots of spans, nothing allocated since), its goroutines and their
// stacks.
type footprint struct{ heap, live, stacks, goroutines float64 }

func (f footprint) minus(g footprint) footprint {
	return footprint{f.heap - g.heap, f.live - g.live, f.stacks - g.stacks, f.goroutines - g.goroutines}
}

func (f footprint) per(n float64) footprint {
	return footprint{f.heap / n, f.live / n, f.stacks / n, f.goroutines / n}
}

// goFootprint forces two GCs in the server cfg reaches (the first moves
// sync.Pool caches to their victim cache, the second frees them), saves
// the heap profile to profile when set, and reads its footprint.
func goFootprint(ctx context.Context, cfg *rest.Config, profile string) (footprint, error) {
	if _, err := serverHeap(ctx, cfg, ""); err != nil {
		return footprint{}, err
	}
	metrics, err := serverHeap(ctx, cfg, profile)
	if err != nil {
		return footprint{}, err
	}
	return footprint{heap: metricSum(metrics, "go_memstats_heap_inuse_bytes", ""),
		live:       metricSum(metrics, "go_gc_heap_live_bytes", ""),
		stacks:     metricSum(metrics, "go_memstats_stack_inuse_bytes", ""),
		goroutines: metricSum(metrics, "go_goroutines", "")}, nil
}

// pprofTop returns the first lines of `go tool pprof -top` for a heap
// profile (in-use space).
func pprofTop(path string, lines int, flags ...string) string {
	return pprofLines(path, lines, append([]string{"-sample_index=inuse_space"}, flags...)...)
}

// pprofLines returns the first lines of `go tool pprof -top` for a profile.
func pprofLines(path string, lines int, flags ...string) string {
	args := append([]string{"tool", "pprof", "-top"}, flags...)
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
