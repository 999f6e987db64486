package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	leaderclient "github.com/leaderhub/leaderhub/client/leaders"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/test/framework"
)

// changeLog collects what a leaderclient.Client delivers.
type changeLog struct {
	mu  sync.Mutex
	got []leaderclient.Config
}

func runClient(t *testing.T, ctx context.Context, opts leaderclient.Options) (*leaderclient.Client, *changeLog) {
	t.Helper()
	c, err := leaderclient.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	log := &changeLog{}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Run(ctx)
	}()
	go func() {
		for cfg := range c.Changes() { // closed when Run returns
			log.mu.Lock()
			log.got = append(log.got, cfg)
			log.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return c, log
}

// String lists the deliveries (source, existence, leaders, time), for
// failure messages.
func (l *changeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for i, c := range l.got {
		fmt.Fprintf(&b, "\n  %d: source=%s exists=%t stale=%t leaders=%q rv=%s", i+1, c.Source, c.Exists, c.Stale, configLeaders(&c), c.ResourceVersion)
	}
	return b.String()
}

func (l *changeLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.got)
}

func (l *changeLog) last() (leaderclient.Config, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.got) == 0 {
		return leaderclient.Config{}, false
	}
	return l.got[len(l.got)-1], true
}

func configLeaders(c *leaderclient.Config) string {
	var out []string
	for _, l := range c.Leaders {
		out = append(out, l.NodeName+"/"+l.IP)
	}
	return strings.Join(out, ",")
}

// waitDelivered waits until the client has delivered n Configs, the last
// with these leaders, and returns it.
func (l *changeLog) waitDelivered(t *testing.T, n int, want string, timeout time.Duration) leaderclient.Config {
	t.Helper()
	var last leaderclient.Config
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		var ok bool
		last, ok = l.last()
		return ok && l.len() >= n && configLeaders(&last) == want, nil
	})
	if err != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		var seen []string
		for _, c := range l.got {
			seen = append(seen, fmt.Sprintf("%s[%s exists=%t stale=%t]", c.Source, configLeaders(&c), c.Exists, c.Stale))
		}
		t.Fatalf("want delivery %d with leaders %q; delivered: %v", n, want, seen)
	}
	return last
}

// waitSource waits until the client reads from src.
func waitSource(t *testing.T, c *leaderclient.Client, src leaderclient.Source, timeout time.Duration) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		cur, ok := c.Current()
		return ok && cur.Source == src, nil
	})
	if err != nil {
		cur, _ := c.Current()
		t.Fatalf("the client did not move to %s within %v (reads %s)", src, timeout, cur.Source)
	}
}

// TestEdgeClient: client/leaders with an edge node's credentials and
// the chart's RBAC only, in a cluster of its own, where one leaderhub holds
// the controller lease and another serves the view: the view is read; with
// the serving replica stopped the client falls back to the EndpointSlices
// the other keeps writing, and returns to the view when it is back; each
// leader change is delivered once; kube-apiserver down keeps the last
// Config, and a new client serves its cache file at once, marked stale; a
// deleted pool delivers no leaders; an IPv6 leader is dialed by its URL.
func TestEdgeClient(t *testing.T) {
	args := []string{"--materialize=endpoints,configmap,endpointslice", "--watch-bookmark-interval=1s"}
	// The controller's replica starts first and holds the lease; the
	// APIService is then pointed at the view's replica.
	e := startClusterEnv(t, "leaderhub-client-controller", args...)
	port := 0 // the first start picks a free port; the restart takes it again
	startView := func() *framework.LeaderHub {
		lh, err := e.cp.StartLeaderHub(testContext(t, time.Minute), framework.LeaderHubOptions{Name: "leaderhub-client-view",
			Port: port, Args: args})
		if err != nil {
			t.Fatal(err)
		}
		framework.StopOnCleanup(t, lh.Process, 10*time.Second)
		port = lh.Port
		return lh
	}
	view := startView()
	if err := e.cp.RegisterAPIService(testContext(t, time.Minute), view); err != nil {
		t.Fatal(err)
	}

	e.createNode(t, "edge-1", "cl", "10.40.0.9", nil)
	e.createElectionPool(t, "cl", appsv1beta2.ElectionStrategyRandom, 1, nil)
	e.setLeaders(t, "cl", leaders("a1=10.40.0.1"))
	// The view serves the leader before the client starts: a client that
	// read the pool before its leader would count one delivery more (the
	// pool without leaders), which the counts below do not expect.
	if err := wait.PollUntilContextTimeout(testContext(t, 30*time.Second), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		lh, err := e.lh.LeaderhubV1alpha1().LeaderHubs(framework.LeaderHubNamespace).Get(ctx, v1alpha1.ObjectName("cl"), metav1.GetOptions{})
		return err == nil && leaderHubLeaders(lh) == "a1/10.40.0.1", nil
	}); err != nil {
		t.Fatalf("the view never served pool cl with its leader: %v", err)
	}
	nodeCfg, err := e.cp.RESTConfigFor("system:node:edge-1", "system:nodes")
	if err != nil {
		t.Fatal(err)
	}
	cacheFile := filepath.Join(t.TempDir(), "leaders.json")
	ctx := testContext(t, 5*time.Minute)
	client, log := runClient(t, ctx, leaderclient.Options{Config: nodeCfg, NodeName: "edge-1",
		ProbeInterval: time.Second, MaxProbeInterval: 2 * time.Second, CacheFile: cacheFile})

	cfg := log.waitDelivered(t, 1, "a1/10.40.0.1", 30*time.Second)
	if cfg.Source != leaderclient.SourceView || cfg.Pool != "cl" || !cfg.Exists || cfg.Stale || !cfg.EnableLeaderElection ||
		cfg.Leaders[0].URL != "https://10.40.0.1:10269" {
		t.Fatalf("first Config %+v", cfg)
	}
	e.setLeaders(t, "cl", leaders("a2=10.40.0.2"))
	log.waitDelivered(t, 2, "a2/10.40.0.2", 20*time.Second)

	// The serving replica stops; the other keeps the EndpointSlices in line.
	switched := time.Now()
	if err := view.Process.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitSource(t, client, leaderclient.SourceEndpointSlice, 30*time.Second)
	t.Logf("moved to the EndpointSlices %v after the serving replica was told to stop", time.Since(switched).Round(time.Millisecond))
	e.setLeaders(t, "cl", leaders("a3=10.40.0.3"))
	cfg = log.waitDelivered(t, 3, "a3/10.40.0.3", 20*time.Second)
	if cfg.Source != leaderclient.SourceEndpointSlice {
		t.Errorf("leader change while the view is down came from %s", cfg.Source)
	}
	out, err := e.cp.Kubectl(testContext(t, 20*time.Second), "get", "endpointslices", "-n", framework.LeaderHubNamespace,
		"-l", "openyurt.io/pool-name=cl")
	if err != nil || !strings.Contains(out, "leader-hub-cl-ipv4") || !strings.Contains(out, "10.40.0.3") {
		t.Errorf("kubectl get endpointslices -l openyurt.io/pool-name=cl: %v\n%s", err, out)
	}

	// The view is back: the client returns to it, with nothing delivered.
	startView()
	if err := e.cp.WaitAPIServiceAvailable(testContext(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	waitSource(t, client, leaderclient.SourceView, 30*time.Second)
	e.setLeaders(t, "cl", leaders("a4=10.40.0.4", "a5=fd00::5"))
	cfg = log.waitDelivered(t, 4, "a4/10.40.0.4,a5/fd00::5", 20*time.Second)
	if cfg.Source != leaderclient.SourceView || cfg.Leaders[1].URL != "https://[fd00::5]:10269" {
		t.Errorf("Config after the return %+v", cfg)
	}
	dialIPv6Leader(t, cfg.Leaders[1].URL, "[fd00::5]:10269")
	// The view may serve a change before the controller has written it to
	// the other forms; kube-apiserver stops only once they are in line, so
	// that a fallback read while the view is not yet back answers the same.
	e.waitFormsInLine(t, "cl", "10.40.0.4", "fd00::5")

	// kube-apiserver stops: the client keeps its Config; a new client with
	// the cache file serves it at once, marked stale.
	startAPIServer := e.stopAPIServer(t)
	time.Sleep(3 * time.Second)
	if cur, ok := client.Current(); !ok || configLeaders(&cur) != "a4/10.40.0.4,a5/fd00::5" || log.len() != 4 {
		t.Errorf("with kube-apiserver down the client holds %+v after %d deliveries, want 4:%s", cur, log.len(), log)
	}
	started := time.Now()
	fresh, freshLog := runClient(t, ctx, leaderclient.Options{Config: nodeCfg, NodeName: "edge-1", ProbeInterval: time.Second,
		MaxProbeInterval: 2 * time.Second, CacheFile: cacheFile})
	cached := freshLog.waitDelivered(t, 1, "a4/10.40.0.4,a5/fd00::5", 5*time.Second)
	if !cached.Stale || cached.Source != leaderclient.SourceCache || cached.Pool != "cl" {
		t.Errorf("cached Config %+v", cached)
	}
	t.Logf("a new client served the cached Config %v after it started, with kube-apiserver down", time.Since(started).Round(time.Millisecond))
	startAPIServer()
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		cur, ok := fresh.Current()
		return ok && !cur.Stale && cur.Source == leaderclient.SourceView, nil
	}); err != nil {
		t.Fatal("the new client did not read the view once kube-apiserver was back")
	}
	// The cached Config, then the view's confirmation of it (same content,
	// no longer stale), and nothing else.
	if confirmed, _ := freshLog.last(); freshLog.len() != 2 || confirmed.Stale || configLeaders(&confirmed) != "a4/10.40.0.4,a5/fd00::5" {
		t.Errorf("the new client delivered %d Configs; want 2, the cached one and the view's confirmation:%s", freshLog.len(), freshLog)
	}

	// The pool is deleted: no leaders, delivered once.
	if err := e.pools.AppsV1beta2().NodePools().Delete(ctx, "cl", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg = log.waitDelivered(t, 5, "", 30*time.Second)
	if cfg.Exists {
		t.Errorf("after the pool's deletion: %+v", cfg)
	}
	// The pool comes back, created and then given a leader (two writes):
	// after the deletion come at most the pool without leaders and then
	// the pool with its leader, so nothing was delivered twice before.
	e.setLeadersAfterCreate(t)
	log.waitDelivered(t, 6, "b1/10.40.1.1", 30*time.Second)
	log.mu.Lock()
	var after []string
	for _, c := range log.got[5:] {
		after = append(after, fmt.Sprintf("exists=%t leaders=%q", c.Exists, configLeaders(&c)))
	}
	log.mu.Unlock()
	if want := `exists=true leaders="b1/10.40.1.1"`; !slices.Equal(after, []string{want}) &&
		!slices.Equal(after, []string{`exists=true leaders=""`, want}) {
		t.Errorf("deliveries after the deletion: %v, want the re-created pool (possibly first without leaders) once; all:%s", after, log)
	}
	t.Logf("deliveries: 5 for 5 changes (2 source switches and a kube-apiserver outage delivered nothing), then %d for the re-created pool", len(after))

	// leaderhub-watch: the CLI an operator runs on the node.
	testWatchCLI(t, e)
}

// waitFormsInLine waits until every materialized form of the pool names
// the leader addresses ipv4 and ipv6 and no other: the Endpoints, one
// EndpointSlice per family, and the ConfigMap.
func (e *clusterEnv) waitFormsInLine(t *testing.T, pool, ipv4, ipv6 string) {
	t.Helper()
	name, ns := v1alpha1.ObjectName(pool), framework.LeaderHubNamespace
	want := fmt.Sprintf("endpoints=[%[1]s %[2]s] ipv4=[%[1]s] ipv6=[%[2]s] configmap=true", ipv4, ipv6)
	var got string
	err := wait.PollUntilContextTimeout(testContext(t, 30*time.Second), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var endpoints []string
		if ep, err := e.kube.CoreV1().Endpoints(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			for _, s := range ep.Subsets {
				for _, a := range s.Addresses {
					endpoints = append(endpoints, a.IP)
				}
			}
		}
		slices.Sort(endpoints)
		family := map[string][]string{}
		for _, f := range []string{"ipv4", "ipv6"} {
			if es, err := e.kube.DiscoveryV1().EndpointSlices(ns).Get(ctx, name+"-"+f, metav1.GetOptions{}); err == nil {
				for _, ep := range es.Endpoints {
					family[f] = append(family[f], ep.Addresses...)
				}
			}
		}
		configMap := false
		if cm, err := e.kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			v := cm.Data[v1alpha1.ConfigMapKeyLeaders]
			configMap = strings.Count(v, ",") == 1 && strings.Contains(v, ipv4) && strings.Contains(v, ipv6)
		}
		got = fmt.Sprintf("endpoints=%v ipv4=%v ipv6=%v configmap=%t", endpoints, family["ipv4"], family["ipv6"], configMap)
		return got == want, nil
	})
	if err != nil {
		t.Fatalf("the forms of pool %s are not in line: %s, want %s", pool, got, want)
	}
}

// setLeadersAfterCreate creates pool cl again with one leader, for the CLI.
func (e *clusterEnv) setLeadersAfterCreate(t *testing.T) {
	t.Helper()
	e.createElectionPool(t, "cl", appsv1beta2.ElectionStrategyRandom, 1, nil)
	e.setLeaders(t, "cl", leaders("b1=10.40.1.1"))
}

// dialIPv6Leader checks that Go's HTTP client, given an IPv6 leader's URL,
// dials the leader's own address and port: the URL must carry the address
// bracketed, or net/http splits it wrongly. The dial itself is refused, as
// no leader listens on the documentation prefix here; what is checked is
// the address net/http asked for.
func dialIPv6Leader(t *testing.T, leaderURL, wantAddr string) {
	t.Helper()
	var dialed []string
	refused := errors.New("no leader YurtHub listens here")
	transport := &http.Transport{DialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, network+" "+addr)
		return nil, refused
	}}
	resp, err := (&http.Client{Transport: transport, Timeout: 10 * time.Second}).Get(leaderURL + "/")
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, refused) {
		t.Fatalf("GET %s: %v, want the test's refusal", leaderURL, err)
	}
	if want := []string{"tcp " + wantAddr}; !slices.Equal(dialed, want) {
		t.Errorf("GET %s dialed %q, want %q", leaderURL, dialed, want)
	}
}

// testWatchCLI runs leaderhub-watch --once as the node, in JSON and text,
// and with bad flags.
func testWatchCLI(t *testing.T, e *clusterEnv) {
	t.Helper()
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "_output", "bin", "leaderhub-watch")
	kubeconfig := filepath.Join(t.TempDir(), "node.kubeconfig")
	if err := e.cp.WriteKubeconfig(kubeconfig, "system:node:edge-1", []string{"system:nodes"}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, int) {
		cmd := exec.CommandContext(testContext(t, time.Minute), bin, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		out, err := cmd.Output()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	var cfg leaderclient.Config
	err = wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		out, code := run("--node=edge-1", "--once", "-o", "json")
		return code == 0 && json.Unmarshal([]byte(out), &cfg) == nil && configLeaders(&cfg) == "b1/10.40.1.1", nil
	})
	if err != nil || cfg.Source != leaderclient.SourceView {
		t.Fatalf("leaderhub-watch --node=edge-1 --once -o json: %+v, %v", cfg, err)
	}
	if out, code := run("--pool=cl", "--once"); code != 0 || !strings.Contains(out, "leaders=b1=https://10.40.1.1:10269") ||
		!strings.Contains(out, "source=view") {
		t.Errorf("leaderhub-watch --pool=cl --once: exit %d\n%s", code, out)
	}
	if _, code := run("--pool=cl", "--node=edge-1"); code != 1 {
		t.Errorf("both --pool and --node: exit %d, want 1", code)
	}
}
