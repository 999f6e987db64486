package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/client/generated/informers/externalversions"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/test/framework"
)

// poolWatchers are YurtHub-style informers, each on one pool's LeaderHub.
type poolWatchers struct {
	stop      chan struct{}
	factories []externalversions.SharedInformerFactory
	stores    []cache.Store
	pools     []string
}

func startPoolWatchers(t *testing.T, cfg *rest.Config, ns string, pools []string, perPool int) *poolWatchers {
	t.Helper()
	pw := &poolWatchers{stop: make(chan struct{})}
	client := leaderHubClient(t, cfg)
	for _, pool := range pools {
		for i := 0; i < perPool; i++ {
			name := v1alpha1.ObjectName(pool)
			f := externalversions.NewSharedInformerFactoryWithOptions(client, 0, externalversions.WithNamespace(ns),
				externalversions.WithTweakListOptions(func(o *metav1.ListOptions) {
					o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
				}))
			inf := f.Leaderhub().V1alpha1().LeaderHubs().Informer()
			f.Start(pw.stop)
			pw.factories = append(pw.factories, f)
			pw.stores = append(pw.stores, inf.GetStore())
			pw.pools = append(pw.pools, pool)
		}
	}
	t.Cleanup(func() {
		close(pw.stop)
		for _, f := range pw.factories {
			f.Shutdown()
		}
	})
	return pw
}

// waitAll waits until every watcher's store holds want[its pool].
func (pw *poolWatchers) waitAll(t *testing.T, want map[string]string, timeout time.Duration) {
	t.Helper()
	var behind int
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		behind = 0
		for i, store := range pw.stores {
			items := store.List()
			if len(items) != 1 || leaderHubLeaders(items[0].(*v1alpha1.LeaderHub)) != want[pw.pools[i]] {
				behind++
			}
		}
		return behind == 0, nil
	})
	if err != nil {
		t.Fatalf("%d of %d watchers do not have the right leaders", behind, len(pw.stores))
	}
}

// TestKubeAPIServerRestart: kube-apiserver is stopped (by PID) and restarted
// while 100 watchers are connected to leaderhub and leaders change before
// and after; every watcher ends with the right leaders, and leaderhub is
// never restarted.
func TestKubeAPIServerRestart(t *testing.T) {
	lh := sharedView(t)
	const started = "process_start_time_seconds"
	startedAt := metricValue(t, lh, started)
	if startedAt == 0 {
		t.Fatalf("leaderhub's /metrics has no %s", started)
	}
	pools := []string{"ft-0", "ft-1", "ft-2", "ft-3", "ft-4"}
	want := map[string]string{}
	for i, p := range pools {
		createPool(t, p, leaders(fmt.Sprintf("a%d=10.30.%d.1", i, i)))
		want[p] = fmt.Sprintf("a%d/10.30.%d.1", i, i)
	}
	cfg, err := lh.RESTConfigFor(controlPlane, "ft-watcher", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	watchers := startPoolWatchers(t, cfg, viewNS, pools, 20)
	watchers.waitAll(t, want, time.Minute)

	for i, p := range pools {
		setLeaders(t, p, leaders(fmt.Sprintf("b%d=10.30.%d.2", i, i)))
		want[p] = fmt.Sprintf("b%d/10.30.%d.2", i, i)
	}
	// Every later test needs kube-apiserver: whatever happens here, it is
	// running again when this test ends, before the other cleanups (which
	// delete this test's pools) run.
	t.Cleanup(func() {
		if controlPlane.APIServer.Exited() {
			if err := controlPlane.StartAPIServer(); err != nil {
				t.Errorf("restoring kube-apiserver for the tests after this one: %v", err)
			}
		}
	})
	if err := controlPlane.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	// Long enough for leaderhub's NodePool watch and the watchers'
	// connections through it to notice, as in a real restart.
	time.Sleep(3 * time.Second)
	if err := controlPlane.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	for i, p := range pools {
		setLeaders(t, p, leaders(fmt.Sprintf("c%d=10.30.%d.3", i, i)))
		want[p] = fmt.Sprintf("c%d/10.30.%d.3", i, i)
	}
	watchers.waitAll(t, want, 2*time.Minute)
	if lh.Process.Exited() {
		t.Fatalf("leaderhub exited:\n%s", lh.Process.Tail(4096))
	}
	if now := metricValue(t, lh, started); now != startedAt {
		t.Fatalf("leaderhub restarted: %s %v, was %v", started, now, startedAt)
	}
	if err := controlPlane.WaitAPIServiceAvailable(testContext(t, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	t.Logf("100 watchers converged after a kube-apiserver restart; leaderhub (pid %d) kept running", lh.Process.PID)
}

// TestLeaderhubRestart: leaderhub is stopped (by PID) and started again on
// the same port while an informer watches it and one pool's leaders change;
// the informer converges, the unchanged pool's Endpoints see no write, and
// the changed pool's exactly one.
func TestLeaderhubRestart(t *testing.T) {
	ns := freshNamespace(t, "leaderhub-restart")
	args := []string{"--leader-elect=false", "--namespace=" + ns}
	port := 0 // the first start picks a free port; the restart takes it again
	start := func() *framework.LeaderHub {
		lh, err := controlPlane.StartLeaderHub(testContext(t, time.Minute), framework.LeaderHubOptions{Name: "leaderhub-restart", Port: port,
			User: "controller-" + ns, Groups: []string{"system:masters"}, Args: args})
		if err != nil {
			t.Fatal(err)
		}
		framework.StopOnCleanup(t, lh.Process, 10*time.Second)
		port = lh.Port
		return lh
	}
	lh := start()
	createPool(t, "rs-same", leaders("s1=10.31.0.1"))
	createPool(t, "rs-changed", leaders("c1=10.31.1.1"))
	same := waitEndpoints(t, ns, "leader-hub-rs-same", "appeared", func(ep *corev1.Endpoints) bool { return endpointsLeaders(ep) == "s1/10.31.0.1" })
	changed := waitEndpoints(t, ns, "leader-hub-rs-changed", "appeared", func(ep *corev1.Endpoints) bool { return endpointsLeaders(ep) == "c1/10.31.1.1" })
	ctx := testContext(t, 3*time.Minute)
	watchEP := func(ep *corev1.Endpoints) watch.Interface {
		w, err := kubeClient(t).CoreV1().Endpoints(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: ep.ResourceVersion,
			FieldSelector: "metadata.name=" + ep.Name})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		return w
	}
	sameWatch, changedWatch := watchEP(same), watchEP(changed)

	cfg, err := lh.RESTConfigFor(controlPlane, "restart-watcher", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	watchers := startPoolWatchers(t, cfg, ns, []string{"rs-same", "rs-changed"}, 1)
	watchers.waitAll(t, map[string]string{"rs-same": "s1/10.31.0.1", "rs-changed": "c1/10.31.1.1"}, time.Minute)

	if err := lh.Process.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	setLeaders(t, "rs-changed", leaders("c2=10.31.1.2"))
	restarted := start()
	watchers.waitAll(t, map[string]string{"rs-same": "s1/10.31.0.1", "rs-changed": "c2/10.31.1.2"}, time.Minute)
	waitEndpoints(t, ns, "leader-hub-rs-changed", "followed the change made while leaderhub was down",
		func(ep *corev1.Endpoints) bool { return endpointsLeaders(ep) == "c2/10.31.1.2" })
	// Wait until the restarted controller has synced every pool.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return metricValue(t, restarted, `leaderhub_controller_syncs_total{result="unchanged"}`) >= 1, nil
	})
	if err != nil {
		t.Fatal("the restarted controller did not sync the unchanged pool")
	}
	if ev := nextEvent(t, changedWatch, 10*time.Second); ev.Type != watch.Modified {
		t.Errorf("changed pool's Endpoints: %s, want one MODIFIED", ev.Type)
	}
	select {
	case ev := <-sameWatch.ResultChan():
		t.Errorf("the unchanged pool's Endpoints were written after the restart: %s", ev.Type)
	case ev := <-changedWatch.ResultChan():
		t.Errorf("the changed pool's Endpoints were written twice: %s", ev.Type)
	case <-time.After(2 * time.Second):
	}
	writes := metricValue(t, restarted, `leaderhub_controller_writes_total{form="endpoints",verb="update"}`) +
		metricValue(t, restarted, `leaderhub_controller_writes_total{form="endpoints",verb="create"}`)
	if writes != 1 {
		t.Errorf("the restarted controller wrote %v times, want 1", writes)
	}
}

// TestSlowWatcherDropped: a watcher that stops reading is dropped while
// another watcher keeps getting its events promptly.
func TestSlowWatcherDropped(t *testing.T) {
	ns := freshNamespace(t, "leaderhub-slow")
	lh := startInNamespace(t, "leaderhub-slow", ns, "--controllers=-materialize", "--watch-buffer=4")
	big := make([]appsv1beta2.Leader, 1500)
	for i := range big {
		big[i] = appsv1beta2.Leader{NodeName: fmt.Sprintf("node-%04d", i), Address: fmt.Sprintf("10.40.%d.%d", i/250, i%250+1)}
	}
	createPool(t, "slow-big", big)
	createPool(t, "slow-small", leaders("x=10.41.0.1"))
	np := churn(t, "slow-small", 0)
	cfg, err := lh.RESTConfigFor(controlPlane, "slow-watcher", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	waitAt := func(rv string) {
		if _, err := leaderHubClient(t, cfg).LeaderhubV1alpha1().LeaderHubs(ns).List(context.Background(), metav1.ListOptions{ResourceVersion: rv}); err != nil {
			t.Fatal(err)
		}
	}
	waitAt(np.ResourceVersion)

	openStalledWatch(t, cfg, lh, ns, np.ResourceVersion)
	droppedBefore := metricValue(t, lh, "leaderhub_view_dropped_watchers_total")

	// A healthy watcher of the small pool.
	w, err := leaderHubClient(t, cfg).LeaderhubV1alpha1().LeaderHubs(ns).Watch(context.Background(), metav1.ListOptions{
		ResourceVersion: np.ResourceVersion, FieldSelector: "metadata.name=leader-hub-slow-small"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	var worst time.Duration
	for i := 0; i < 150; i++ {
		set := big
		if i%2 == 1 {
			set = big[1:]
		}
		setLeaders(t, "slow-big", set)
		if i%15 == 0 {
			start := time.Now()
			setLeaders(t, "slow-small", leaders(fmt.Sprintf("x=10.41.0.%d", i/15+2)))
			ev := nextEvent(t, w, 10*time.Second)
			if ev.Type != watch.Modified {
				t.Fatalf("healthy watcher got %s", ev.Type)
			}
			mu.Lock()
			worst = max(worst, time.Since(start))
			mu.Unlock()
		}
	}
	err = wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return metricValue(t, lh, "leaderhub_view_dropped_watchers_total") > droppedBefore, nil
	})
	if err != nil {
		t.Fatal("the watcher that stopped reading was not dropped")
	}
	if err := lh.WaitReady(testContext(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Logf("slow watcher dropped after ~11 MB of events; the healthy watcher's slowest change took %v (write + delivery)", worst.Round(time.Millisecond))
}

// openStalledWatch opens a watch of every LeaderHub in ns from rv, directly
// on lh, over HTTP/1.1 with a tiny receive buffer, and never reads it: a
// client on a link that has stalled. The connection closes when the test
// ends, or when the returned func is called.
func openStalledWatch(t *testing.T, cfg *rest.Config, lh *framework.LeaderHub, ns, rv string) (closeConn func()) {
	t.Helper()
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg.NextProtos, tlsCfg.ServerName = []string{"http/1.1"}, "127.0.0.1"
	raw, err := net.Dial("tcp", lh.URL[len("https://"):])
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.(*net.TCPConn).SetReadBuffer(4096)
	conn := tls.Client(raw, tlsCfg)
	// Closing the connection first, so closing the body does not drain the
	// watch through the 4 KiB buffer.
	closeConn = func() { _ = conn.Close() }
	t.Cleanup(closeConn)
	req, _ := http.NewRequest(http.MethodGet, lh.URL+"/apis/leaderhub.openyurt.io/v1alpha1/namespaces/"+ns+"/leaderhubs?watch=true&resourceVersion="+rv, nil)
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 16), req)
	if err != nil {
		t.Fatalf("stalled watch: %v", err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stalled watch: %s", resp.Status)
	}
	return closeConn
}
