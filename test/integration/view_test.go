package integration

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/yaml"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/client/generated/informers/externalversions"
)

const viewNS = "kube-system"

// TestViewDiscovery: the APIService is Available and discovery shows a
// read-only leaderhubs resource with its short name and category.
func TestViewDiscovery(t *testing.T) {
	sharedView(t)
	ctx := testContext(t, time.Minute)
	status, msg, err := controlPlane.APIServiceAvailable(ctx)
	if err != nil || status != "True" {
		t.Fatalf("APIService Available = %q (%s), err %v", status, msg, err)
	}
	dc := discovery.NewDiscoveryClientForConfigOrDie(adminConfig(t))
	resources, err := dc.ServerResourcesForGroupVersion(v1alpha1.SchemeGroupVersion.String())
	if err != nil {
		t.Fatal(err)
	}
	var found *metav1.APIResource
	for i := range resources.APIResources {
		if resources.APIResources[i].Name == "leaderhubs" {
			found = &resources.APIResources[i]
		}
	}
	if found == nil {
		t.Fatalf("leaderhubs not in discovery: %+v", resources.APIResources)
	}
	verbs := slices.Clone([]string(found.Verbs))
	slices.Sort(verbs)
	if !reflect.DeepEqual(verbs, []string{"get", "list", "watch"}) || !found.Namespaced || found.Kind != "LeaderHub" ||
		!reflect.DeepEqual(found.ShortNames, []string{"lh"}) || !reflect.DeepEqual(found.Categories, []string{"yurt"}) ||
		found.SingularName != "leaderhub" {
		t.Errorf("discovery entry = %+v", *found)
	}
}

// TestViewKubectl: kubectl through kube-apiserver prints the table columns,
// -o yaml is exactly the contract, -o wide adds the metadata column, explain
// works, and get -w prints a change of leaders.
func TestViewKubectl(t *testing.T) {
	sharedView(t)
	ctx := testContext(t, 2*time.Minute)
	np := createPool(t, "kubectl", leaders("edge-b=10.1.0.2", "edge-a=10.1.0.1"))
	name := v1alpha1.ObjectName(np.Name)

	var table string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		out, err := controlPlane.Kubectl(ctx, "get", "lh", "-n", viewNS)
		table = out
		return err == nil && strings.Contains(out, name), nil
	})
	if err != nil {
		t.Fatalf("kubectl get lh never showed %s: %v\n%s", name, err, table)
	}
	header := strings.Fields(strings.SplitN(table, "\n", 2)[0])
	if want := []string{"NAME", "LEADERS", "INTERCONNECTIVITY", "ELECTION", "AGE"}; !reflect.DeepEqual(header, want) {
		t.Errorf("columns = %v, want %v", header, want)
	}
	if row := rowOf(table, name); len(row) < 4 || row[1] != "edge-a/10.1.0.1,edge-b/10.1.0.2" || row[2] != "true" || row[3] != "true" {
		t.Errorf("row = %v", row)
	}

	wide, err := controlPlane.Kubectl(ctx, "get", "lh", "-n", viewNS, "-o", "wide")
	if err != nil {
		t.Fatal(err)
	}
	if header := strings.Fields(strings.SplitN(wide, "\n", 2)[0]); header[len(header)-1] != "POOL-SCOPED-METADATA" {
		t.Errorf("-o wide columns = %v", header)
	}
	if row := rowOf(wide, name); row[len(row)-1] != "/v1/services,discovery.k8s.io/v1/endpointslices" {
		t.Errorf("-o wide row = %v", row)
	}

	out, err := controlPlane.Kubectl(ctx, "get", "lh", "-n", viewNS, name, "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]interface{}
	if err := yaml.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	wantYAML := `apiVersion: leaderhub.openyurt.io/v1alpha1
kind: LeaderHub
metadata:
  name: leader-hub-kubectl
  namespace: kube-system
  uid: ` + string(np.UID) + `
  creationTimestamp: "` + np.CreationTimestamp.UTC().Format(time.RFC3339) + `"
  resourceVersion: "` + np.ResourceVersion + `"
  labels:
    app.kubernetes.io/managed-by: leaderhub
    openyurt.io/pool-name: kubectl
  annotations:
    openyurt.io/enable-leader-election: "true"
    openyurt.io/interconnectivity: "true"
    openyurt.io/pool-scoped-metadata: /v1/services,discovery.k8s.io/v1/endpointslices
  ownerReferences:
  - apiVersion: apps.openyurt.io/v1beta2
    kind: NodePool
    name: kubectl
    uid: ` + string(np.UID) + `
    controller: true
subsets:
- addresses:
  - ip: 10.1.0.1
    nodeName: edge-a
  - ip: 10.1.0.2
    nodeName: edge-b
  ports:
  - name: https
    port: 10269
    protocol: TCP
`
	var want map[string]interface{}
	if err := yaml.Unmarshal([]byte(wantYAML), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kubectl -o yaml:\n%s\nwant:\n%s", out, wantYAML)
	}

	// kube-apiserver aggregates OpenAPI v3 asynchronously after the APIService
	// turns Available, so explain may need a few seconds.
	var explain string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		explain, err = controlPlane.Kubectl(ctx, "explain", "leaderhub.subsets")
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("kubectl explain leaderhub.subsets: %v (last: %v)", err, explain)
	}
	for _, field := range []string{"addresses", "ports", "LeaderHubSubset"} {
		if !strings.Contains(explain, field) {
			t.Errorf("kubectl explain leaderhub.subsets lacks %q:\n%s", field, explain)
		}
	}

	// kubectl get -w prints the change of leaders.
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	cmd := exec.CommandContext(watchCtx, filepath.Join(controlPlane.BinDir, "kubectl"), "--kubeconfig="+controlPlane.Kubeconfig,
		"get", "lh", "-n", viewNS, name, "-w", "--no-headers")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stopWatch(); _ = cmd.Wait() }()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expectLine(t, lines, "edge-a/10.1.0.1,edge-b/10.1.0.2") // the current state first
	setLeaders(t, np.Name, leaders("edge-c=10.1.0.3"))
	expectLine(t, lines, "edge-c/10.1.0.3")
}

func rowOf(table, name string) []string {
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return f
		}
	}
	return nil
}

func expectLine(t *testing.T, lines <-chan string, substr string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl -w ended before printing %q", substr)
			}
			if strings.Contains(line, substr) {
				return
			}
		case <-timeout:
			t.Fatalf("kubectl -w did not print %q", substr)
		}
	}
}

// eventCounter counts what an informer hands its handlers.
type eventCounter struct {
	mu                    sync.Mutex
	adds, updates, delete int
	last                  *v1alpha1.LeaderHub
}

func (c *eventCounter) handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj interface{}) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.adds++
			c.last = obj.(*v1alpha1.LeaderHub)
		},
		UpdateFunc: func(_, obj interface{}) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.updates++
			c.last = obj.(*v1alpha1.LeaderHub)
		},
		DeleteFunc: func(interface{}) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.delete++
			c.last = nil
		},
	}
}

func (c *eventCounter) counts() (int, int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.adds, c.updates, c.delete
}

// waitFor waits until the counts and the last object's leaders are as
// given, and fails at once if a count goes past what is expected.
func (c *eventCounter) waitFor(t *testing.T, adds, updates, deletes int, leaders string) {
	t.Helper()
	var a, u, d int
	var got string
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		a, u, d = c.counts()
		got = c.lastLeaders()
		if a > adds || u > updates || d > deletes {
			return false, fmt.Errorf("too many events")
		}
		return a == adds && u == updates && d == deletes && got == leaders, nil
	})
	if err != nil {
		t.Fatalf("informer events (add, update, delete) = (%d, %d, %d) with leaders %q, want (%d, %d, %d) with %q: %v",
			a, u, d, got, adds, updates, deletes, leaders, err)
	}
}

func (c *eventCounter) lastLeaders() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		return ""
	}
	return leaderHubLeaders(c.last)
}

func (c *eventCounter) lastRV() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last.ResourceVersion
}

// TestViewYurtHubClient: a YurtHub-style informer (generated clientset and
// informer, one namespace, metadata.name=leader-hub-<pool>) through
// kube-apiserver sees the create, each change of leaders and the delete of
// its pool, and nothing for 100 status updates outside the projection.
func TestViewYurtHubClient(t *testing.T) {
	sharedView(t)
	const pool = "yurthub"
	name := v1alpha1.ObjectName(pool)
	factory := externalversions.NewSharedInformerFactoryWithOptions(leaderHubClient(t, adminConfig(t)), 0,
		externalversions.WithNamespace(viewNS),
		externalversions.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}))
	informer := factory.Leaderhub().V1alpha1().LeaderHubs().Informer()
	counter := &eventCounter{}
	if _, err := informer.AddEventHandler(counter.handler()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	factory.Start(stop)
	defer func() { close(stop); factory.Shutdown() }()
	if !cache.WaitForCacheSync(testContext(t, 30*time.Second).Done(), informer.HasSynced) {
		t.Fatal("informer did not sync")
	}
	counter.waitFor(t, 0, 0, 0, "")

	// Creating a pool is two writes: the NodePool (no leaders yet: ADDED) and
	// its status (the first leaders: MODIFIED).
	createPool(t, pool, leaders("n1=10.2.0.1"))
	counter.waitFor(t, 1, 1, 0, "n1/10.2.0.1")
	setLeaders(t, pool, leaders("n1=10.2.0.1", "n2=10.2.0.2"))
	counter.waitFor(t, 1, 2, 0, "n1/10.2.0.1,n2/10.2.0.2")
	setLeaders(t, pool, leaders("n2=10.2.0.2"))
	counter.waitFor(t, 1, 3, 0, "n2/10.2.0.2")
	before := counter.lastRV()

	var lastChurn string
	for i := 0; i < 100; i++ {
		lastChurn = churn(t, pool, i).ResourceVersion
	}
	// The view has seen every churn update once it serves their version;
	// any event they caused would reach the informer before the next change.
	waitViewAt(t, lastChurn)
	setLeaders(t, pool, leaders("n3=10.2.0.3"))
	counter.waitFor(t, 1, 4, 0, "n3/10.2.0.3")
	if counter.lastRV() == before {
		t.Errorf("resourceVersion did not change with the leaders")
	}

	if err := clientset(t).AppsV1beta2().NodePools().Delete(testContext(t, 10*time.Second), pool, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The delete is the next event: had anything late followed the last
	// change, the updates would be more than 4.
	counter.waitFor(t, 1, 4, 1, "")
	t.Logf("informer events: 1 add, 4 updates (status write and 3 leader changes), 1 delete; 0 for 100 status updates outside the projection")
}

// TestViewWatchResume: a watch resumed from a returned resourceVersion gets
// exactly the missed changes; a version pushed out of the history gets 410.
func TestViewWatchResume(t *testing.T) {
	lh := sharedView(t)
	cfg, err := lh.RESTConfigFor(controlPlane, "resume-tester", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	client := leaderHubClient(t, cfg).LeaderhubV1alpha1().LeaderHubs(viewNS)
	ctx := testContext(t, 2*time.Minute)
	const pool = "resume"
	name := v1alpha1.ObjectName(pool)
	createPool(t, pool, leaders("r1=10.3.0.1"))
	np := churn(t, pool, 0)
	waitViewAt(t, np.ResourceVersion)
	list, err := client.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	from := list.ResourceVersion

	first := setLeaders(t, pool, leaders("r2=10.3.0.2"))
	churn(t, pool, 1)
	second := setLeaders(t, pool, leaders("r3=10.3.0.3"))
	churn(t, pool, 2)

	w, err := client.Watch(ctx, metav1.ListOptions{ResourceVersion: from, FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for _, want := range []string{first.ResourceVersion, second.ResourceVersion} {
		ev := nextEvent(t, w, 10*time.Second)
		if ev.Type != watch.Modified || ev.Object.(*v1alpha1.LeaderHub).ResourceVersion != want {
			t.Fatalf("resumed watch got %s@%s, want MODIFIED@%s", ev.Type, ev.Object.(*v1alpha1.LeaderHub).ResourceVersion, want)
		}
	}
	// Nothing extra: the next event is the change made now.
	third := setLeaders(t, pool, leaders("r5=10.3.0.5"))
	if ev := nextEvent(t, w, 10*time.Second); ev.Type != watch.Modified || ev.Object.(*v1alpha1.LeaderHub).ResourceVersion != third.ResourceVersion {
		t.Fatalf("resumed watch got %s@%s, want the next change MODIFIED@%s", ev.Type, ev.Object.(*v1alpha1.LeaderHub).ResourceVersion, third.ResourceVersion)
	}

	// Push the resume point out of the view's history: more than viewHistory changes.
	for i := 0; i < viewHistory+2; i++ {
		setLeaders(t, pool, leaders("r4=10.3.1."+string(rune('1'+i%9))+"0"))
		setLeaders(t, pool, leaders("r4=10.3.2.1"))
	}
	_, err = client.Watch(ctx, metav1.ListOptions{ResourceVersion: from, FieldSelector: "metadata.name=" + name})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("watch from an evicted version: err %v, want 410 Expired", err)
	}
	t.Logf("watch from evicted resourceVersion %s: %v", from, err)
}

// TestViewBookmarksOnQuietWatch: a watch with nothing to report still gets
// bookmarks carrying the newest version, so it stays resumable.
func TestViewBookmarksOnQuietWatch(t *testing.T) {
	sharedView(t)
	client := leaderHubClient(t, adminConfig(t)).LeaderhubV1alpha1().LeaderHubs(viewNS)
	ctx := testContext(t, time.Minute)
	createPool(t, "quiet", leaders("q1=10.4.0.1"))
	np := churn(t, "quiet", 0)
	waitViewAt(t, np.ResourceVersion)
	w, err := client.Watch(ctx, metav1.ListOptions{ResourceVersion: np.ResourceVersion, AllowWatchBookmarks: true,
		FieldSelector: "metadata.name=leader-hub-quiet"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	newer := churn(t, "quiet", 1) // moves the view on without an event
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-w.ResultChan():
			if ev.Type != watch.Bookmark {
				t.Fatalf("quiet watch got %s, want only bookmarks", ev.Type)
			}
			if rv := ev.Object.(*v1alpha1.LeaderHub).ResourceVersion; rv == newer.ResourceVersion {
				return
			}
		case <-deadline:
			t.Fatalf("no bookmark at %s within 15s", newer.ResourceVersion)
		}
	}
}

// countingListWatch wraps a ListerWatcher and records how the reflector uses it.
type countingListWatch struct {
	cache.ListerWatcherWithContext
	lists, watchLists, watches atomic.Int32
	// beforeWatch and onWatch, if set, see each watch call (1-based) before
	// it is made and its result.
	beforeWatch func(n int32)
	onWatch     func(n int32, w watch.Interface, err error) (watch.Interface, error)
}

func (c *countingListWatch) ListWithContext(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	c.lists.Add(1)
	return c.ListerWatcherWithContext.ListWithContext(ctx, opts)
}

func (c *countingListWatch) List(opts metav1.ListOptions) (runtime.Object, error) {
	return c.ListWithContext(context.Background(), opts)
}

func (c *countingListWatch) Watch(opts metav1.ListOptions) (watch.Interface, error) {
	return c.WatchWithContext(context.Background(), opts)
}

func (c *countingListWatch) WatchWithContext(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	n := c.watches.Add(1)
	if opts.SendInitialEvents != nil && *opts.SendInitialEvents {
		c.watchLists.Add(1)
	}
	if c.beforeWatch != nil {
		c.beforeWatch(n)
	}

	w, err := c.ListerWatcherWithContext.WatchWithContext(ctx, opts)
	if c.onWatch != nil {
		return c.onWatch(n, w, err)
	}
	return w, err
}

// TestViewReflectorWatchListAndRelist: a client-go reflector with watch-list
// on (the default) syncs through one sendInitialEvents watch, never falling
// back to a list; when its resume point has left the history it gets 410
// and relists (through watch-list again), ending with the right state.
func TestViewReflectorWatchListAndRelist(t *testing.T) {
	lh := sharedView(t)
	cfg, err := lh.RESTConfigFor(controlPlane, "reflector-tester", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	client := leaderHubClient(t, cfg).LeaderhubV1alpha1().LeaderHubs(viewNS)
	const pool = "reflector"
	createPool(t, pool, leaders("f1=10.5.0.1"))

	cut := make(chan struct{})    // closed to end the first watch, as a network cut would
	resume := make(chan struct{}) // closed when the reflector may resume
	var resumeErr atomic.Value    // what the resumed watch got
	lw := &countingListWatch{ListerWatcherWithContext: &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = "metadata.name=leader-hub-" + pool
			return client.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = "metadata.name=leader-hub-" + pool
			return client.Watch(ctx, o)
		},
	}}
	lw.beforeWatch = func(n int32) {
		if n == 2 {
			<-resume
		}
	}
	lw.onWatch = func(n int32, w watch.Interface, err error) (watch.Interface, error) {
		switch n {
		case 1:
			if err != nil {
				return w, err
			}
			return cutAfter(w, cut), nil
		case 2:
			resumeErr.Store(errString(err))
		}
		return w, err
	}
	store := cache.NewStore(cache.MetaNamespaceKeyFunc)
	reflector := cache.NewReflectorWithOptions(lw, &v1alpha1.LeaderHub{}, store, cache.ReflectorOptions{Name: "test"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go reflector.RunWithContext(ctx)

	waitStore(t, store, "f1/10.5.0.1")
	if lw.lists.Load() != 0 || lw.watchLists.Load() != 1 {
		t.Fatalf("initial sync: %d lists, %d watch-lists; want 0 and 1 (no fallback)", lw.lists.Load(), lw.watchLists.Load())
	}

	// Cut the stream, then push the reflector's version out of the history
	// before it resumes. The stream must have lasted over a second: client-go
	// answers a shorter, empty one with a new watch-list instead of resuming.
	time.Sleep(1500 * time.Millisecond)
	close(cut)
	for i := 0; i < viewHistory+2; i++ {
		setLeaders(t, pool, leaders("f2=10.5.1.1"))
		setLeaders(t, pool, leaders("f3=10.5.1.2"))
	}
	final := setLeaders(t, pool, leaders("f9=10.5.9.9"))
	waitViewAt(t, final.ResourceVersion)
	close(resume)
	waitStore(t, store, "f9/10.5.9.9")
	if got, _ := resumeErr.Load().(string); !strings.Contains(got, "too old resource version") {
		t.Errorf("the resumed watch got %q, want 410 too old resource version", got)
	}
	if lw.lists.Load() != 0 || lw.watchLists.Load() != 2 {
		t.Errorf("after 410: %d lists, %d watch-lists; want 0 and 2 (relisted through watch-list)", lw.lists.Load(), lw.watchLists.Load())
	}
	obj, _, _ := store.GetByKey(viewNS + "/leader-hub-" + pool)
	if obj.(*v1alpha1.LeaderHub).ResourceVersion != final.ResourceVersion {
		t.Errorf("store at %s, want %s", obj.(*v1alpha1.LeaderHub).ResourceVersion, final.ResourceVersion)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// cutAfter passes a watch through until cut is closed, then ends it.
func cutAfter(w watch.Interface, cut <-chan struct{}) watch.Interface {
	ch := make(chan watch.Event)
	pw := watch.NewProxyWatcher(ch)
	go func() {
		defer close(ch)
		defer w.Stop()
		for {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				select {
				case ch <- ev:
				case <-pw.StopChan():
					return
				}
			case <-cut:
				return
			case <-pw.StopChan():
				return
			}
		}
	}()
	return pw
}

func waitStore(t *testing.T, store cache.Store, leaders string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		for _, obj := range store.List() {
			if leaderHubLeaders(obj.(*v1alpha1.LeaderHub)) == leaders {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("reflector store never had leaders %s", leaders)
	}
}

// TestViewRejectsWritesAndBadRequests: write verbs get 405; malformed
// selectors and resourceVersions get 400 with a reason; the server stays ready.
func TestViewRejectsWritesAndBadRequests(t *testing.T) {
	lh := sharedView(t)
	ctx := testContext(t, time.Minute)
	createPool(t, "writes", leaders("w1=10.6.0.1"))
	rc := leaderHubClient(t, adminConfig(t)).LeaderhubV1alpha1().RESTClient()
	body := []byte(`{"apiVersion":"leaderhub.openyurt.io/v1alpha1","kind":"LeaderHub","metadata":{"name":"leader-hub-writes","namespace":"kube-system"}}`)
	for _, tc := range []struct {
		verb string
		req  func() error
	}{
		{"create", func() error {
			return rc.Post().Namespace(viewNS).Resource("leaderhubs").Body(body).Do(ctx).Error()
		}},
		{"update", func() error {
			return rc.Put().Namespace(viewNS).Resource("leaderhubs").Name("leader-hub-writes").Body(body).Do(ctx).Error()
		}},
		{"patch", func() error {
			return rc.Patch("application/merge-patch+json").Namespace(viewNS).Resource("leaderhubs").Name("leader-hub-writes").
				Body([]byte(`{"metadata":{"labels":{"x":"y"}}}`)).Do(ctx).Error()
		}},
		{"delete", func() error {
			return rc.Delete().Namespace(viewNS).Resource("leaderhubs").Name("leader-hub-writes").Do(ctx).Error()
		}},
		{"deletecollection", func() error {
			return rc.Delete().Namespace(viewNS).Resource("leaderhubs").Do(ctx).Error()
		}},
	} {
		if err := tc.req(); !apierrors.IsMethodNotSupported(err) {
			t.Errorf("%s: err %v, want 405 Method Not Allowed", tc.verb, err)
		}
	}
	if _, err := controlPlane.Kubectl(ctx, "delete", "lh", "-n", viewNS, "leader-hub-writes"); err == nil || !strings.Contains(err.Error(), "MethodNotAllowed") {
		t.Errorf("kubectl delete: %v, want MethodNotAllowed", err)
	}

	for _, tc := range []struct {
		name, param, value, reason string
	}{
		{"label selector", "labelSelector", "a b c", "unable to parse requirement"},
		{"unknown field selector", "fieldSelector", "spec.subsets=x", "not a known field selector"},
		{"malformed field selector", "fieldSelector", "metadata.name", "invalid selector"},
		{"resourceVersion", "resourceVersion", "not-a-number", "invalid resourceVersion"},
	} {
		for _, watchReq := range []bool{false, true} {
			req := rc.Get().Namespace(viewNS).Resource("leaderhubs").Param(tc.param, tc.value)
			if watchReq {
				req = req.Param("watch", "true")
			}
			err := req.Do(ctx).Error()
			if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("%s (watch=%v): err %v, want 400 mentioning %q", tc.name, watchReq, err, tc.reason)
			}
		}
	}
	if err := lh.WaitReady(ctx); err != nil {
		t.Errorf("leaderhub not ready after bad requests: %v", err)
	}
	client, _ := lh.HTTPClient()
	resp, err := client.Get(lh.URL + "/readyz")
	if err != nil {
		t.Fatalf("/readyz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz: %s", resp.Status)
	}
}
