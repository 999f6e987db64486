package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/test/fixtures"
	"github.com/leaderhub/leaderhub/test/framework"
)

// TestYurtHub: upstream YurtHub v1.7.0 with leaderhub's patch
// (integrations/yurthub, built by `make yurthub`), in edge mode with a node
// certificate and upstream's yurt-hub RBAC, against a cluster of its own
// where one leaderhub materializes the forms and another serves the view.
// Every leader address lives in a network namespace the test makes, where
// a stand-in leader logs each connection it accepts.
//
// With --leader-hub-source=leaderhub, YurtHub loads its pool from the view
// and becomes a follower, dials its leader (an IPv6 one bracketed), follows
// a leader change and a poolScopeMetadata change, reads from kube-apiserver
// ("api") when elected, keeps following from the EndpointSlices when the
// view is gone, and, restarted while kube-apiserver is down, starts from its
// cache file with the last leaders. A YurtHub of another pool never sees
// this pool's leaders. With the flag at its default, the same binary follows
// the ConfigMap form as upstream does.
func TestYurtHub(t *testing.T) {
	if _, err := framework.YurtHubBinary(); err != nil {
		t.Fatal(err)
	}
	args := []string{"--materialize=endpoints,configmap,endpointslice", "--watch-bookmark-interval=1s"}
	e := startClusterEnv(t, "leaderhub-yurthub-controller", args...)
	ctx := testContext(t, 10*time.Minute)
	view, err := e.cp.StartLeaderHub(testContext(t, time.Minute), framework.LeaderHubOptions{Name: "leaderhub-yurthub-view", Args: args})
	if err != nil {
		t.Fatal(err)
	}
	framework.StopOnCleanup(t, view.Process, 10*time.Second)
	if err := e.cp.RegisterAPIService(testContext(t, time.Minute), view); err != nil {
		t.Fatal(err)
	}
	if err := framework.ApplyYurtHubPrerequisites(ctx, e.kube); err != nil {
		t.Fatal(err)
	}

	ns, err := framework.NewNetNS(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Delete(); err != nil {
			t.Error(err)
		}
	})
	// Leader addresses, all inside the namespace.
	l4, l6, elected, other := ns.IPv4[0].String(), ns.IPv6[0].String(), ns.IPv4[1].String(), ns.IPv4[2].String()

	for _, n := range []struct{ name, pool, ip string }{
		{"yh-edge", "yh", elected}, {"yh-cm", "yh", "10.251.255.1"}, {"yh-l4", "yh", l4}, {"yh-l6", "yh", l6},
		{"other-edge", "other", "10.251.255.2"}, {"other-l", "other", other},
	} {
		e.createNode(t, n.name, n.pool, n.ip, nil)
	}
	for _, pool := range []string{"yh", "other"} {
		np := fixtures.NodePool(pool, fixtures.NoUID(), fixtures.Edge(), fixtures.WithElection(appsv1beta2.ElectionStrategyRandom, 1),
			fixtures.WithPoolScopeMetadata(fixtures.DefaultPoolScopeMetadata...))
		if _, err := e.pools.AppsV1beta2().NodePools().Create(ctx, np, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.setLeaders(t, "other", leaders("other-l="+other))

	start := func(node, pool, source string, restart *framework.YurtHub) *framework.YurtHub {
		t.Helper()
		yh, err := e.cp.StartYurtHub(testContext(t, 2*time.Minute), framework.YurtHubOptions{Node: node, Pool: pool,
			LeaderHubSource: source, Restart: restart})
		if err != nil {
			t.Fatal(err)
		}
		framework.StopOnCleanup(t, yh.Process, 10*time.Second)
		return yh
	}
	viewHub := start("yh-edge", "yh", "leaderhub", nil)
	configMapHub := start("yh-cm", "yh", "", nil)
	otherHub := start("other-edge", "other", "leaderhub", nil)
	standIn, err := ns.StartStandInLeader(e.cp.Dir, viewHub.MultiplexerPort, configMapHub.MultiplexerPort, otherHub.MultiplexerPort)
	if err != nil {
		t.Fatal(err)
	}
	framework.StopOnCleanup(t, standIn, 5*time.Second)
	if _, _, err := standIn.WaitLog(ctx, 0, regexp.MustCompile(`listening \[`+regexp.QuoteMeta(l6)), 30*time.Second); err != nil {
		t.Fatal(err)
	}

	// follows waits for YurtHub's multiplexer to log a Config from source
	// with this source for pool-scoped metadata and these leaders.
	type follower struct {
		hub    *framework.YurtHub
		offset int64
	}
	viewSide, cmSide := &follower{hub: viewHub}, &follower{hub: configMapHub}
	// changed is when the test last wrote the NodePool.
	var changed time.Time
	follows := func(f *follower, source, metadataSource, leader, what string) string {
		t.Helper()
		re := regexp.MustCompile(`after leaderhub ` + source + ` \(stale=(true|false)\), source for pool scope metadata: ` +
			metadataSource + `, pool scope metadata: .*, leaders: \[` + regexp.QuoteMeta(leader) + `\]`)
		line, next, err := f.hub.WaitLog(ctx, f.offset, re, 60*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		f.offset = next
		since := ""
		if !changed.IsZero() {
			since = fmt.Sprintf(" %v after the change", klogTime(t, line).Sub(changed).Round(time.Millisecond))
		}
		t.Logf("%s:%s: %s", what, since, line[strings.Index(line, "after leaderhub"):])
		return line
	}
	followsConfigMap := func(f *follower, metadataSource, metadata, what string) string {
		t.Helper()
		re := regexp.MustCompile(`after (added|updated) configmap, source for pool scope metadata: ` + metadataSource +
			`, pool scope metadata: map\[.*` + metadata)
		line, next, err := f.hub.WaitLog(ctx, f.offset, re, 60*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		f.offset = next
		return line
	}
	dialed := func(ip string, port int) {
		t.Helper()
		addr := regexp.QuoteMeta(net.JoinHostPort(ip, fmt.Sprint(port)))
		if _, _, err := standIn.WaitLog(ctx, 0, regexp.MustCompile(`accepted local=`+addr+` `), 60*time.Second); err != nil {
			t.Fatalf("no YurtHub dialed its leader at %s: %v", addr, err)
		}
	}

	// The pool gets a leader: both followers load it, each from its form.
	changed = time.Now()
	e.setLeaders(t, "yh", leaders("yh-l4="+l4))
	viaView := follows(viewSide, "view", "pool", l4, "the view's YurtHub became a follower")
	viaConfigMap := followsConfigMap(cmSide, "pool", "", "the ConfigMap's YurtHub became a follower")
	t.Logf("NodePool write to the multiplexer's update: %v through the view, %v through the ConfigMap",
		klogTime(t, viaView).Sub(changed).Round(time.Millisecond), klogTime(t, viaConfigMap).Sub(changed).Round(time.Millisecond))
	// The client's metrics are on YurtHub's /metrics.
	if metrics := scrapeYurtHub(t, viewHub.ServePort); !strings.Contains(metrics, `leaderhub_client_source{source="view"} 1`) {
		t.Errorf("YurtHub's /metrics without the client's source in use:\n%s", grepLines(metrics, "leaderhub_client_"))
	}
	dialed(l4, viewHub.MultiplexerPort)
	dialed(l4, configMapHub.MultiplexerPort)

	// An IPv6 leader, dialed bracketed.
	changed = time.Now()
	e.setLeaders(t, "yh", leaders("yh-l6="+l6))
	follows(viewSide, "view", "pool", l6, "leader change to IPv6")
	followsConfigMap(cmSide, "pool", "", "leader change to IPv6 (ConfigMap)")
	dialed(l6, viewHub.MultiplexerPort)

	// poolScopeMetadata gains pods.
	changed = time.Now()
	e.updatePool(t, "yh", func(np *appsv1beta2.NodePool) {
		np.Spec.PoolScopeMetadata = append(np.Spec.PoolScopeMetadata, metav1.GroupVersionResource{Version: "v1", Resource: "pods"})
	})
	if line := follows(viewSide, "view", "pool", l6, "poolScopeMetadata change"); !strings.Contains(line, "Resource=pods") {
		t.Errorf("pool scope metadata without pods: %s", line)
	}
	followsConfigMap(cmSide, "pool", "Resource=pods", "poolScopeMetadata change (ConfigMap)")

	// yh-edge is elected: it reads pool-scoped metadata from kube-apiserver.
	changed = time.Now()
	e.setLeaders(t, "yh", leaders("yh-edge="+elected))
	follows(viewSide, "view", "api", elected, "elected")
	followsConfigMap(cmSide, "pool", "", "the ConfigMap's YurtHub follows the new leader")

	// The view is gone (its replica stopped, the APIService unavailable):
	// YurtHub keeps following, from the EndpointSlices.
	if err := view.Process.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	changed = time.Now()
	e.setLeaders(t, "yh", leaders("yh-l4="+l4))
	follows(viewSide, "endpointslice", "pool", l4, "leader change with the view gone")

	// Restarted while kube-apiserver is down: it starts from its cache file
	// with the last leaders.
	if err := viewHub.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	startAPIServer := e.stopAPIServer(t)
	// (its log is appended to: only what the restarted process writes counts)
	restarted := &follower{offset: viewHub.LogSize()}
	changed = time.Now()
	restarted.hub = start("yh-edge", "yh", "leaderhub", viewHub)
	follows(restarted, "cache", "pool", l4, "restarted with kube-apiserver down (since the start)")
	changed = time.Now()
	startAPIServer()
	// kube-apiserver is back: a source confirms the cached leaders.
	follows(restarted, "endpointslice", "pool", l4, "confirmed once kube-apiserver is back (since its start)")

	// The other pool's YurtHub followed its own leader and never saw this
	// pool's.
	changed = time.Time{}
	other4 := &follower{hub: otherHub}
	follows(other4, "view", "pool", other, "the other pool's YurtHub follows its leader")
	log, err := os.ReadFile(otherHub.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{l4, l6, elected} {
		if strings.Contains(string(log), ip) {
			t.Errorf("the YurtHub of pool other saw %s, a leader of pool yh", ip)
		}
	}
	// Each YurtHub read its leaders from its one source only.
	for hub, not := range map[*framework.YurtHub]string{viewHub: "configmap, source for pool scope metadata",
		configMapHub: "after leaderhub", otherHub: "configmap, source for pool scope metadata"} {
		if log, err := os.ReadFile(hub.LogFile); err != nil || strings.Contains(string(log), not) {
			t.Errorf("%s logged %q (%v)", hub.Name, not, err)
		}
	}
}

// scrapeYurtHub reads a YurtHub's /metrics.
func scrapeYurtHub(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return string(body)
}

// grepLines keeps the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// klogTime is the time a klog line was written (klog writes the month, day
// and time of day, in the machine's zone: this test's).
func klogTime(t *testing.T, line string) time.Time {
	t.Helper()
	m := regexp.MustCompile(`[IWE](\d{4}) (\d{2}:\d{2}:\d{2}\.\d{6})`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no klog header in %q", line)
	}
	now := time.Now()
	at, err := time.ParseInLocation("0102 15:04:05.000000 2006", m[1]+" "+m[2]+" "+fmt.Sprint(now.Year()), time.Local)
	if err != nil {
		t.Fatal(err)
	}
	return at
}
