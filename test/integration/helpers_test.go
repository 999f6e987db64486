package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/client/generated/clientset/versioned"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	openyurtclient "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned"
	"github.com/leaderhub/leaderhub/test/fixtures"
	"github.com/leaderhub/leaderhub/test/framework"
)

func adminConfig(t *testing.T) *rest.Config {
	t.Helper()
	cfg, err := controlPlane.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// leaders builds leaderEndpoints from "node=ip" pairs.
func leaders(pairs ...string) []appsv1beta2.Leader {
	var out []appsv1beta2.Leader
	for _, p := range pairs {
		var node, ip string
		for i := range p {
			if p[i] == '=' {
				node, ip = p[:i], p[i+1:]
			}
		}
		out = append(out, appsv1beta2.Leader{NodeName: node, Address: ip})
	}
	return out
}

// createPool creates a NodePool with interconnectivity, election and the
// two default pool-scoped resources, and writes its leaders into status.
func createPool(t *testing.T, name string, ls []appsv1beta2.Leader) *appsv1beta2.NodePool {
	t.Helper()
	ctx := testContext(t, 30*time.Second)
	pools := clientset(t).AppsV1beta2().NodePools()
	np, err := pools.Create(ctx, fixtures.NodePool(name, fixtures.NoUID(), fixtures.Edge(), fixtures.InterConnected(),
		fixtures.WithElection(appsv1beta2.ElectionStrategyRandom, int32(len(ls))),
		fixtures.WithPoolScopeMetadata(fixtures.DefaultPoolScopeMetadata...)), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating NodePool %s: %v", name, err)
	}
	t.Cleanup(func() { _ = pools.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	np.Status = appsv1beta2.NodePoolStatus{ReadyNodeNum: int32(len(ls)), LeaderEndpoints: ls, LeaderNum: int32(len(ls))}
	np, err = pools.UpdateStatus(ctx, np, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("writing NodePool %s status: %v", name, err)
	}
	return np
}

// updateStatus changes a NodePool's status and returns it as written.
func updateStatus(t *testing.T, name string, change func(*appsv1beta2.NodePoolStatus)) *appsv1beta2.NodePool {
	t.Helper()
	out, err := framework.UpdateNodePoolStatus(testContext(t, 30*time.Second), clientset(t), name, change)
	if err != nil {
		t.Fatalf("updating NodePool %s status: %v", name, err)
	}
	return out
}

func setLeaders(t *testing.T, name string, ls []appsv1beta2.Leader) *appsv1beta2.NodePool {
	t.Helper()
	return updateStatus(t, name, func(s *appsv1beta2.NodePoolStatus) {
		s.LeaderEndpoints, s.LeaderNum = ls, int32(len(ls))
	})
}

// churn changes only status fields outside the projection.
func churn(t *testing.T, name string, i int) *appsv1beta2.NodePool {
	t.Helper()
	return updateStatus(t, name, func(s *appsv1beta2.NodePoolStatus) {
		s.ReadyNodeNum, s.UnreadyNodeNum = int32(i%7+1), int32(i%3)
		s.Nodes = []string{fmt.Sprintf("node-%d", i), fmt.Sprintf("node-%d", i+1)}
	})
}

func leaderHubClient(t *testing.T, cfg *rest.Config) versioned.Interface {
	t.Helper()
	return versioned.NewForConfigOrDie(cfg)
}

func leaderHubLeaders(lh *v1alpha1.LeaderHub) string { return framework.LeaderHubLeaders(lh) }

// waitViewAt waits until a list through kube-apiserver is at rv or newer.
func waitViewAt(t *testing.T, rv string) {
	t.Helper()
	client := leaderHubClient(t, adminConfig(t)).LeaderhubV1alpha1().LeaderHubs(viewNS)
	_, err := client.List(testContext(t, 30*time.Second), metav1.ListOptions{ResourceVersion: rv, Limit: 1})
	if err != nil {
		t.Fatalf("view never reached resourceVersion %s: %v", rv, err)
	}
}

func nextEvent(t *testing.T, w watch.Interface, d time.Duration) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch ended")
		}
		return ev
	case <-time.After(d):
		t.Fatalf("no watch event within %v", d)
	}
	return watch.Event{}
}

func kubeClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	c, err := controlPlane.KubeClient()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitEndpoints waits until the Endpoints exist and cond holds for them.
func waitEndpoints(t *testing.T, ns, name string, what string, cond func(*corev1.Endpoints) bool) *corev1.Endpoints {
	t.Helper()
	return waitObject(t, "Endpoints "+ns+"/"+name, func(ctx context.Context) (*corev1.Endpoints, error) {
		return kubeClient(t).CoreV1().Endpoints(ns).Get(ctx, name, metav1.GetOptions{})
	}, what, cond)
}

// waitObject waits, up to 30s, until get finds the object and cond holds
// for it.
func waitObject[T any](t *testing.T, object string, get func(context.Context) (T, error), what string, cond func(T) bool) T {
	t.Helper()
	var obj T
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		obj, err = get(ctx)
		return err == nil && cond(obj), nil
	})
	if err != nil {
		t.Fatalf("%s never %s (last: %+v)", object, what, obj)
	}
	return obj
}

// deleteWithGarbageCollector stops leaderhub, deletes a NodePool with
// kube-controller-manager's garbage collector running, and waits until get
// finds the pool's object gone through its owner reference.
func deleteWithGarbageCollector(t *testing.T, lh *framework.LeaderHub, pool, what string, get func(context.Context) error) {
	t.Helper()
	if err := lh.Process.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	kcm, err := controlPlane.StartControllerManager(testContext(t, time.Minute), "garbagecollector")
	if err != nil {
		t.Fatal(err)
	}
	framework.StopOnCleanup(t, kcm, 10*time.Second)
	if err := clientset(t).AppsV1beta2().NodePools().Delete(context.Background(), pool, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, get, what+" (by the garbage collector)", 90*time.Second)
}

func waitGone(t *testing.T, get func(context.Context) error, what string, timeout time.Duration) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		return apierrors.IsNotFound(get(ctx)), nil
	})
	if err != nil {
		t.Fatalf("%s was not deleted within %v", what, timeout)
	}
}

func endpointsLeaders(ep *corev1.Endpoints) string {
	var out []string
	for _, s := range ep.Subsets {
		for _, a := range s.Addresses {
			n := ""
			if a.NodeName != nil {
				n = *a.NodeName
			}
			out = append(out, n+"/"+a.IP)
		}
	}
	return strings.Join(out, ",")
}

func scrape(t *testing.T, lh *framework.LeaderHub) string {
	t.Helper()
	return scrapeFrom(t, controlPlane, lh)
}

// scrapeFrom reads /metrics of a leaderhub running against cp.
func scrapeFrom(t *testing.T, cp *framework.ControlPlane, lh *framework.LeaderHub) string {
	t.Helper()
	cfg, err := lh.RESTConfigFor(cp, "metrics-reader", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(lh.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	return string(body)
}

// metricValue returns the value of one series ("name" or "name{labels}")
// from leaderhub's /metrics, 0 when absent.
func metricValue(t *testing.T, lh *framework.LeaderHub, series string) float64 {
	t.Helper()
	return seriesValue(t, scrape(t, lh), series)
}

// seriesValue returns the value of one series from a /metrics page, 0 when
// absent.
func seriesValue(t *testing.T, page, series string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sumSeries adds up every series of one metric on a /metrics page.
func sumSeries(t *testing.T, page, metric string) float64 {
	t.Helper()
	var sum float64
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(metric) + `(?:\{[^}]*\})? ([0-9.e+-]+)$`)
	for _, m := range re.FindAllStringSubmatch(page, -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	return sum
}

// waitResyncs waits until lh's materialize controller has started rounds
// more resyncs and synced at least rounds times the pools it manages since
// the call. A "nothing was written" check means something only once the
// resyncs that would have written have run; sleeping for a resync period
// proves nothing on a loaded machine. It returns the number of syncs seen.
func waitResyncs(t *testing.T, lh *framework.LeaderHub, rounds int) float64 {
	t.Helper()
	return waitResyncsOn(t, controlPlane, lh, rounds)
}

// waitResyncsOn is waitResyncs for a leaderhub running against cp.
func waitResyncsOn(t *testing.T, cp *framework.ControlPlane, lh *framework.LeaderHub, rounds int) float64 {
	t.Helper()
	const resyncs = `leaderhub_controller_resyncs_total{controller="materialize"}`
	page := scrapeFrom(t, cp, lh)
	resyncs0, syncs0 := seriesValue(t, page, resyncs), sumSeries(t, page, "leaderhub_controller_syncs_total")
	want := float64(rounds) * seriesValue(t, page, "leaderhub_controller_managed_pools")
	var synced float64
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, time.Duration(rounds)*controllerResync+time.Minute, true,
		func(context.Context) (bool, error) {
			page := scrapeFrom(t, cp, lh)
			synced = sumSeries(t, page, "leaderhub_controller_syncs_total") - syncs0
			return seriesValue(t, page, resyncs)-resyncs0 >= float64(rounds) && synced >= want, nil
		})
	if err != nil {
		t.Fatalf("the controller did not run %d resyncs of %v pool syncs (%v syncs seen)", rounds, want, synced)
	}
	return synced
}

// waitEvent waits for an Event with reason on the NodePool called pool, as
// it is now: Events of an earlier pool of that name (an earlier run, with
// go test -count=2) do not count.
func waitEvent(t *testing.T, pool, reason string) *corev1.Event {
	t.Helper()
	np, err := clientset(t).AppsV1beta2().NodePools().Get(testContext(t, 10*time.Second), pool, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var event *corev1.Event
	err = wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := kubeClient(t).CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: poolEvents(np, reason)})
		if err != nil || len(list.Items) == 0 {
			return false, nil
		}
		event = &list.Items[0]
		return true, nil
	})
	if err != nil {
		t.Fatalf("no %s Event on NodePool %s", reason, pool)
	}
	return event
}

// poolEvents selects the Events with reason about this NodePool (by UID).
func poolEvents(np *appsv1beta2.NodePool, reason string) string {
	return "involvedObject.name=" + np.Name + ",involvedObject.uid=" + string(np.UID) + ",reason=" + reason
}

// clientset is an admin NodePool clientset (JSON: NodePools are a custom
// resource).
func clientset(t *testing.T) openyurtclient.Interface {
	t.Helper()
	cfg, err := controlPlane.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	return openyurtclient.NewForConfigOrDie(cfg)
}

func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var (
	namespacesMu  sync.Mutex
	namespaceRuns = map[string]int{}
)

// freshNamespace creates a namespace for one run of a test and returns its
// name: base the first time, base-2, base-3 on later runs in the same
// process (go test -count=2). The shared control plane runs no namespace
// controller, so a namespace cannot be deleted; a fresh one per run keeps
// one run's objects out of the next.
func freshNamespace(t *testing.T, base string) string {
	t.Helper()
	namespacesMu.Lock()
	namespaceRuns[base]++
	ns := base
	if n := namespaceRuns[base]; n > 1 {
		ns = fmt.Sprintf("%s-%d", base, n)
	}
	namespacesMu.Unlock()
	if _, err := kubeClient(t).CoreV1().Namespaces().Create(testContext(t, 10*time.Second),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// startInNamespace runs a leaderhub that materializes into a namespace of
// the test's own (so it does not meet the shared one's controller), as a
// ServiceAccount of its own holding only what the chart grants its flags.
func startInNamespace(t *testing.T, name, ns string, args ...string) *framework.LeaderHub {
	t.Helper()
	ctx := testContext(t, 2*time.Minute)
	lh, err := controlPlane.StartLeaderHub(ctx, framework.LeaderHubOptions{Name: name, Args: append([]string{"--namespace=" + ns}, args...)})
	if err != nil {
		t.Fatal(err)
	}
	framework.StopOnCleanup(t, lh.Process, 10*time.Second)
	return lh
}

// viewLeaders waits until the view serves the pool's LeaderHub with leaders.
func waitViewLeaders(t *testing.T, pool, want string) *v1alpha1.LeaderHub {
	t.Helper()
	client := leaderHubClient(t, adminConfig(t)).LeaderhubV1alpha1().LeaderHubs(viewNS)
	var got *v1alpha1.LeaderHub
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		lh, err := client.Get(ctx, v1alpha1.ObjectName(pool), metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		got = lh
		return leaderHubLeaders(lh) == want, nil
	})
	if err != nil {
		t.Fatalf("the view never served %s with leaders %q (last %v)", pool, want, got)
	}
	return got
}

// startOwnControlPlane starts a control plane for one test, stopped when it
// ends (its logs shown if the test failed).
func startOwnControlPlane(t *testing.T, ctx context.Context, opts framework.Options) *framework.ControlPlane {
	t.Helper()
	dir, err := os.MkdirTemp("", "leaderhub-"+strings.ReplaceAll(t.Name(), "/", "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	opts.Dir = dir
	cp, err := framework.Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting control plane: %v (logs kept in %s)", err, dir)
	}
	t.Cleanup(func() {
		if err := cp.Stop(); err != nil {
			t.Errorf("stopping control plane: %v", err)
		}
		if t.Failed() {
			t.Logf("control plane logs (all kept in %s):\n%s", dir, cp.Logs(16384))
			return
		}
		os.RemoveAll(dir)
	})
	return cp
}

// leaderHubGate starts a watch gate on cp for the service account of the
// leaderhub named name, closed when the test ends, and returns it with a
// kubeconfig through it.
func leaderHubGate(t *testing.T, cp *framework.ControlPlane, name string) (*framework.WatchGate, string) {
	t.Helper()
	gate, err := cp.NewServiceAccountGate(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gate.Close() })
	kubeconfig := filepath.Join(t.TempDir(), "gate.kubeconfig")
	if err := gate.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	return gate, kubeconfig
}
