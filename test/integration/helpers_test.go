package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/generated/clientset/versioned"
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

func leaderHubLeaders(lh *v1alpha1.LeaderHub) string {
	var got []string
	for _, s := range lh.Subsets {
		for _, a := range s.Addresses {
			got = append(got, ptr.Deref(a.NodeName, "")+"/"+a.IP)
		}
	}
	return strings.Join(got, ",")
}

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
	defer func() { _ = kcm.Stop(10 * time.Second) }()
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

// waitEvent waits for an Event with reason on the NodePool called pool.
func waitEvent(t *testing.T, pool, reason string) *corev1.Event {
	t.Helper()
	var event *corev1.Event
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := kubeClient(t).CoreV1().Events("default").List(ctx, metav1.ListOptions{
			FieldSelector: "involvedObject.name=" + pool + ",reason=" + reason})
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

// startInNamespace runs a leaderhub that materializes into its own namespace
// (so it does not meet the shared one's controller), as a privileged user.
func startInNamespace(t *testing.T, name, ns string, args ...string) *framework.LeaderHub {
	t.Helper()
	ctx := testContext(t, 2*time.Minute)
	if _, err := kubeClient(t).CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	lh, err := controlPlane.StartLeaderHub(ctx, framework.LeaderHubOptions{Name: name, User: "controller-" + ns, Groups: []string{"system:masters"},
		Args: append([]string{"--namespace=" + ns}, args...)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lh.Process.Stop(10 * time.Second) })
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
	opts.Dir = t.TempDir()
	cp, err := framework.Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting control plane: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("control plane logs:\n%s", cp.Logs(16384))
		}
		if err := cp.Stop(); err != nil {
			t.Errorf("stopping control plane: %v", err)
		}
	})
	return cp
}
