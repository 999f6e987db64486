package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/client/generated/clientset/versioned"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/test/fixtures"
	"github.com/leaderhub/leaderhub/test/framework"
)

const ns = "kube-system"

func poolName(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }

func twoLeaders(seed int) []appsv1beta2.Leader {
	return []appsv1beta2.Leader{
		{NodeName: fmt.Sprintf("edge-%d-a", seed), Address: fmt.Sprintf("10.%d.%d.1", seed>>8&255, seed&255)},
		{NodeName: fmt.Sprintf("edge-%d-b", seed), Address: fmt.Sprintf("10.%d.%d.2", seed>>8&255, seed&255)},
	}
}

// parallel runs fn(i) for i in [0, n) on workers goroutines; first error wins.
func parallel(n, workers int, fn func(i int) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// createPools creates pools prefix-0..n-1, each with two leaders and the
// usual settings, and writes their status.
func (e *env) createPools(ctx context.Context, prefix string, n int) error {
	return e.createPoolRange(ctx, prefix, 0, n)
}

// publishPools creates pools prefix-0..n-1 and waits, up to timeout, until
// the view and the Endpoints hold them.
func (e *env) publishPools(ctx context.Context, prefix string, n int, timeout time.Duration) error {
	if err := e.createPools(ctx, prefix, n); err != nil {
		return err
	}
	return e.waitPublished(ctx, prefix, n, timeout)
}

// createPoolRange creates pools from to to-1 of prefix, as createPools does.
func (e *env) createPoolRange(ctx context.Context, prefix string, from, to int) error {
	pools := e.pools.AppsV1beta2().NodePools()
	return parallel(to-from, 16, func(i int) error {
		i += from
		np, err := pools.Create(ctx, fixtures.NodePool(poolName(prefix, i), fixtures.NoUID(), fixtures.Edge(),
			fixtures.InterConnected(), fixtures.WithElection(appsv1beta2.ElectionStrategyRandom, 2),
			fixtures.WithPoolScopeMetadata(fixtures.DefaultPoolScopeMetadata...)), metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating %s: %w", poolName(prefix, i), err)
		}
		nodes := make([]string, 10)
		for j := range nodes {
			nodes[j] = fmt.Sprintf("edge-%d-%d", i, j)
		}
		np.Status = appsv1beta2.NodePoolStatus{ReadyNodeNum: 10, Nodes: nodes, LeaderEndpoints: twoLeaders(i), LeaderNum: 2,
			LeaderLastElectedTime: metav1.Now()}
		_, err = pools.UpdateStatus(ctx, np, metav1.UpdateOptions{})
		return err
	})
}

func (e *env) updateStatus(ctx context.Context, name string, change func(*appsv1beta2.NodePoolStatus)) (*appsv1beta2.NodePool, error) {
	return framework.UpdateNodePoolStatus(ctx, e.pools, name, change)
}

// churn changes status fields a LeaderHub does not carry: node counts and list.
func (e *env) churn(ctx context.Context, name string, i int) error {
	_, err := e.updateStatus(ctx, name, func(s *appsv1beta2.NodePoolStatus) {
		s.ReadyNodeNum, s.UnreadyNodeNum = int32(10-i%3), int32(i%3)
		s.Nodes = append(s.Nodes[:0:0], s.Nodes...)
		if len(s.Nodes) > 0 {
			s.Nodes[i%len(s.Nodes)] = fmt.Sprintf("edge-replaced-%d", i)
		}
	})
	return err
}

func (e *env) setLeaders(ctx context.Context, name string, leaders []appsv1beta2.Leader) error {
	_, err := e.updateStatus(ctx, name, func(s *appsv1beta2.NodePoolStatus) {
		s.LeaderEndpoints, s.LeaderNum = leaders, int32(len(leaders))
	})
	return err
}

// waitFor polls cond every 200ms until it holds or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, cond); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// waitPublished waits until the view and the Endpoints hold n objects of pools prefix-*.
func (e *env) waitPublished(ctx context.Context, prefix string, n int, timeout time.Duration) error {
	client := versionedFor(e.direct).LeaderhubV1alpha1().LeaderHubs(ns)
	return waitFor(ctx, timeout, "publishing "+prefix, func(ctx context.Context) (bool, error) {
		list, err := client.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		if countPrefix(len(list.Items), func(i int) string { return list.Items[i].Name }, v1alpha1.ObjectName(prefix+"-")) < n {
			return false, nil
		}
		eps, err := e.kube.CoreV1().Endpoints(ns).List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelManagedBy + "=" + v1alpha1.ManagedByValue})
		if err != nil {
			return false, nil
		}
		return countPrefix(len(eps.Items), func(i int) string { return eps.Items[i].Name }, v1alpha1.ObjectName(prefix+"-")) >= n, nil
	})
}

func countPrefix(n int, name func(int) string, prefix string) int {
	c := 0
	for i := 0; i < n; i++ {
		if strings.HasPrefix(name(i), prefix) {
			c++
		}
	}
	return c
}

// Watch URLs for one pool, in each form.
func nodePoolWatchURL(host, pool, rv string) string {
	return host + "/apis/apps.openyurt.io/v1beta2/nodepools?" + watchQuery("metadata.name="+pool, rv)
}

func leaderHubWatchURL(host, pool, rv string) string {
	return host + "/apis/leaderhub.openyurt.io/v1alpha1/namespaces/" + ns + "/leaderhubs?" + watchQuery("metadata.name="+v1alpha1.ObjectName(pool), rv)
}

func endpointsWatchURL(host, pool, rv string) string {
	return host + "/api/v1/namespaces/" + ns + "/endpoints?" + watchQuery("metadata.name="+v1alpha1.ObjectName(pool), rv)
}

// endpointSliceWatchURL selects the pool's EndpointSlices by label, as
// consumers must (one slice per address family, named by family).
func endpointSliceWatchURL(host, pool, rv string) string {
	q := url.Values{"watch": {"true"}, "labelSelector": {v1alpha1.LabelPoolName + "=" + pool}}
	if rv != "" {
		q.Set("resourceVersion", rv)
	}
	return host + "/apis/discovery.k8s.io/v1/namespaces/" + ns + "/endpointslices?" + q.Encode()
}

func watchQuery(fieldSelector, rv string) string {
	q := url.Values{"watch": {"true"}, "fieldSelector": {fieldSelector}}
	if rv != "" {
		q.Set("resourceVersion", rv)
	}
	return q.Encode()
}

func versionedFor(cfg *rest.Config) versioned.Interface { return versioned.NewForConfigOrDie(cfg) }

// scrape returns leaderhub's /metrics.
func (e *env) scrape(ctx context.Context) (string, error) { return scrapeServer(ctx, e.direct) }

// scrapeServer reads the /metrics of the API server cfg reaches.
func scrapeServer(ctx context.Context, cfg *rest.Config) (string, error) {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return "", err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/metrics", nil)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// metricSum adds every sample of a metric whose line matches filter.
func metricSum(text, name, filter string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? ([0-9.e+-]+)$`)
	sum := 0.0
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		if filter != "" && !strings.Contains(m[1], filter) {
			continue
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		sum += v
	}
	return sum
}

// cpuProfile saves a CPU profile of the API server cfg reaches, taken over
// the next d, to path.
func cpuProfile(ctx context.Context, cfg *rest.Config, d time.Duration, path string) error {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", cfg.Host, int(d.Seconds())), nil)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("CPU profile: %s", resp.Status)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// serverHeap forces a GC in the API server cfg reaches, optionally saves its
// heap profile, and returns its metrics (text) as of then.
func serverHeap(ctx context.Context, cfg *rest.Config, path string) (string, error) {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return "", err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/debug/pprof/heap?gc=1", nil)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	if path != "" {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return "", err
		}
	}
	return scrapeServer(ctx, cfg)
}
