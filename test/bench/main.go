// Command bench measures leaderhub against what a user would do instead, on
// a real etcd, kube-apiserver and leaderhub-apiserver started by
// test/framework, and writes docs/benchmarks.md. Every scenario is sized by
// flags; the defaults fit a 2-core machine. Run it with `make bench`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	openyurtclient "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned"
	"github.com/leaderhub/leaderhub/test/framework"
)

type config struct {
	out       string
	scenarios string

	edgePools, edgeWatchers, edgeStatusUpdates, edgeLeaderChanges int
	fanoutPools, fanoutWatchers, fanoutChanges                    int
	memoryWatchers                                                int
	aggregatorSteps                                               string
	throughputRequests, throughputConcurrency                     int
	controllerPools                                               int
	controllerResync                                              time.Duration
	relistPools, relistWatchers                                   int
	relistBinary                                                  string
	goBench, keepLogs, large                                      bool
	electionPools, electionNodesPerPool, electionChurnRate        int
	electionChurnFor                                              time.Duration
	electionFailoverPools, electionWatchers                       int
	electionOutagePools                                           int
	restartPools, restartWatchers, restartEndpointsWatchers       int
	restartShutdownDelay                                          time.Duration
}

// env is the running system the scenarios measure.
type env struct {
	cfg    config
	cp     *framework.ControlPlane
	lh     *framework.LeaderHub
	admin  *rest.Config // kube-apiserver, as admin
	direct *rest.Config // leaderhub-apiserver itself, as admin
	kube   kubernetes.Interface
	pools  openyurtclient.Interface
	report *report
	apiPID int
}

func main() {
	var c config
	flag.StringVar(&c.out, "out", "docs/benchmarks.md", "where to write the report")
	flag.StringVar(&c.scenarios, "scenarios", "restart,election,edge-bytes,controller,fanout,memory,aggregator,throughput,relist",
		"scenarios to run, comma-separated (restart runs on a control plane of its own, first, while the machine is otherwise idle; "+
			"election deletes every NodePool first, and its own after, so it runs before the others; empty: none, only the Go benchmarks)")
	flag.IntVar(&c.edgePools, "edge-pools", 50, "edge bytes: NodePools")
	flag.IntVar(&c.edgeWatchers, "edge-watchers", 20, "edge bytes: watchers per pool and per form")
	flag.IntVar(&c.edgeStatusUpdates, "edge-status-updates", 20, "edge bytes: status updates per pool that leave the projection alone")
	flag.IntVar(&c.edgeLeaderChanges, "edge-leader-changes", 2, "edge bytes: leader changes per pool")
	flag.IntVar(&c.fanoutPools, "fanout-pools", 100, "fan-out: pools")
	flag.IntVar(&c.fanoutWatchers, "fanout-watchers", 20, "fan-out: watchers per pool")
	flag.IntVar(&c.fanoutChanges, "fanout-changes", 20, "fan-out: leader changes timed per form")
	flag.IntVar(&c.memoryWatchers, "memory-watchers", 5000, "memory: idle watchers per server (a fifth opened first as a warm-up)")
	flag.StringVar(&c.aggregatorSteps, "aggregator-steps", "1000,2500,5000,10000", "aggregator: concurrent watches to try, one connection each, in order")
	flag.IntVar(&c.throughputRequests, "throughput-requests", 5000, "GET/LIST throughput: requests per form")
	flag.IntVar(&c.throughputConcurrency, "throughput-concurrency", 16, "GET/LIST throughput: concurrent requests")
	flag.IntVar(&c.controllerPools, "controller-pools", 10000, "controller scale and memory per pool: NodePools")
	flag.DurationVar(&c.controllerResync, "controller-resync", 30*time.Second, "controller scale: resync period observed for writes")
	flag.IntVar(&c.relistPools, "relist-pools", 100, "relist: NodePools")
	flag.IntVar(&c.relistWatchers, "relist-watchers", 10000, "relist: watches of the view through the aggregator, spread over the pools")
	flag.StringVar(&c.relistBinary, "relist-binary", "", "relist: the leaderhub-apiserver binary to measure (default: this commit's)")
	flag.IntVar(&c.electionPools, "election-pools", 500, "election: NodePools with election on")
	flag.IntVar(&c.electionNodesPerPool, "election-nodes-per-pool", 20, "election: Nodes per pool")
	flag.IntVar(&c.electionChurnRate, "election-churn-rate", 500, "election: heartbeat-only Node status updates per second")
	flag.DurationVar(&c.electionChurnFor, "election-churn-for", 20*time.Second, "election: how long the heartbeats run")
	flag.IntVar(&c.electionFailoverPools, "election-failover-pools", 50, "election: pools whose leader is failed over, one at a time")
	flag.IntVar(&c.electionWatchers, "election-watchers", 10, "election: view watchers per failed-over pool")
	flag.IntVar(&c.electionOutagePools, "election-outage-pools", 50, "election: pools cut off from the cloud in each of the two outages")
	flag.IntVar(&c.restartPools, "restart-pools", 100, "restart: NodePools")
	flag.IntVar(&c.restartWatchers, "restart-watchers", 10000, "restart: watches of the view through the aggregator, spread over the pools")
	flag.IntVar(&c.restartEndpointsWatchers, "restart-endpoints-watchers", 1000, "restart: watches of the pools' Endpoints for the single-replica restart")
	flag.DurationVar(&c.restartShutdownDelay, "restart-shutdown-delay", 5*time.Second, "restart: --shutdown-delay-duration of the replicas (the chart's default)")
	flag.BoolVar(&c.keepLogs, "keep-logs", false, "keep the control planes' and leaderhubs' logs (they are kept anyway when a scenario fails)")
	flag.BoolVar(&c.goBench, "go-bench", true, "also run the Go testing.B benchmarks of the hot paths and include them")
	flag.BoolVar(&c.large, "large", false, "the large run instead of the scenarios: election at 100,000 Nodes in 5,000 pools "+
		"(one 500-pool outage), written as section 11 of -out in place of that section, the others kept (about 25 min; "+
		"-election-* flags given explicitly still apply)")
	flag.Parse()
	if c.large {
		c.largeRun()
	}
	klog.SetOutput(os.Stderr)
	raiseFileLimit()

	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

func run(c config) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "leaderhub-bench-")
	if err != nil {
		return err
	}
	failed := false
	defer func() {
		// A failed scenario's logs are what tells why: keep them.
		if failed || c.keepLogs {
			fmt.Fprintf(os.Stderr, "the control planes' logs are kept in %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	start := time.Now()
	cp, err := framework.Start(ctx, framework.Options{Dir: dir, Profiling: true})
	if err != nil {
		return err
	}
	defer func() {
		if err := cp.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		}
	}()
	if err := cp.InstallCRDs(ctx); err != nil {
		return err
	}
	lh, err := cp.StartLeaderHub(ctx, framework.LeaderHubOptions{Args: []string{
		"--controller-resync-period=" + c.controllerResync.String(), "--v=1"}})
	if err != nil {
		return err
	}
	if err := cp.RegisterAPIService(ctx, lh); err != nil {
		return err
	}
	e := &env{cfg: c, cp: cp, lh: lh, apiPID: cp.APIServer.PID, report: newReport(c)}
	if e.admin, err = cp.RESTConfig(); err != nil {
		return err
	}
	e.admin.QPS, e.admin.Burst = 2000, 4000
	// Scenarios compare with core/v1 Endpoints on purpose: no deprecation
	// warning per request.
	e.admin.WarningHandler = rest.NoWarnings{}
	if e.direct, err = lh.RESTConfigFor(cp, "bench", "system:masters"); err != nil {
		return err
	}
	e.direct.QPS, e.direct.Burst = 2000, 4000
	e.kube = kubernetes.NewForConfigOrDie(e.admin)
	e.pools = openyurtclient.NewForConfigOrDie(e.admin)

	scenarios := map[string]func(context.Context) error{
		"controller": e.controllerScale,
		"edge-bytes": e.edgeBytes,
		"fanout":     e.fanout,
		"memory":     e.memoryPerWatcher,
		"aggregator": e.aggregator,
		"throughput": e.throughput,
		"relist":     e.relist,
		"election":   e.election,
		"restart":    e.restart,
	}
	for _, name := range strings.Split(c.scenarios, ",") {
		if strings.TrimSpace(name) == "" {
			continue // -scenarios= runs none: only the Go benchmarks
		}
		fn, ok := scenarios[strings.TrimSpace(name)]
		if !ok {
			return fmt.Errorf("unknown scenario %q", name)
		}
		fmt.Fprintf(os.Stderr, "== %s (%s)\n", name, time.Since(start).Round(time.Second))
		if err := fn(ctx); err != nil {
			failed = true
			e.report.failed(name, err)
			fmt.Fprintf(os.Stderr, "scenario %s failed: %v\n", name, err)
		}
	}
	if c.goBench {
		fmt.Fprintf(os.Stderr, "== go test -bench (%s)\n", time.Since(start).Round(time.Second))
		e.report.goBenchmarks()
	}
	e.report.duration = time.Since(start)
	if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
		return err
	}
	text := e.report.markdown()
	if c.large {
		if text, err = e.report.mergeInto(c.out); err != nil {
			return err
		}
	}
	if err := os.WriteFile(c.out, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s in %s\n", c.out, e.report.duration.Round(time.Second))
	return nil
}

// largeRun sets the large run's sizes, where no flag set them.
func (c *config) largeRun() {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c.scenarios, c.goBench = "election", false
	if !set["controller-resync"] {
		// The chart's: scenario 6's 30 s would resync 5,000 pools
		// during the CPU measurements.
		c.controllerResync = 10 * time.Minute
	}
	for name, v := range map[string]*int{"election-pools": &c.electionPools, "election-nodes-per-pool": &c.electionNodesPerPool,
		"election-outage-pools": &c.electionOutagePools} {
		if !set[name] {
			*v = map[string]int{"election-pools": 5000, "election-nodes-per-pool": 20, "election-outage-pools": 500}[name]
		}
	}
}

// flagsSet lists the flags given on the command line, for the report.
func flagsSet() []string {
	var out []string
	flag.Visit(func(f *flag.Flag) { out = append(out, "-"+f.Name+"="+f.Value.String()) })
	return out
}
