package integration

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
	leaderhubv1alpha1 "github.com/leaderhub/leaderhub/pkg/generated/clientset/versioned/typed/leaderhub/v1alpha1"
	openyurtclient "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned"
	"github.com/leaderhub/leaderhub/test/framework"
)

// resumingWatcher watches one pool's LeaderHub as client-go's reflector
// does: it resumes a watch that ends from the last version it saw
// (bookmarks included) and lists only when that is answered 410 Gone. It
// counts what a restart costs it.
type resumingWatcher struct {
	client leaderhubv1alpha1.LeaderHubInterface
	name   string
	rv     string

	mu sync.Mutex
	// seen is when each leaders value first arrived.
	seen map[string]time.Time
	last string

	lists, gones, reconnects, failures atomic.Int64
}

func (w *resumingWatcher) record(lh *v1alpha1.LeaderHub) {
	w.rv = lh.ResourceVersion
	leaders := leaderHubLeaders(lh)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.seen[leaders]; !ok {
		w.seen[leaders] = time.Now()
	}
	w.last = leaders
}

func (w *resumingWatcher) current() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

func (w *resumingWatcher) list(ctx context.Context) error {
	list, err := w.client.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + w.name})
	if err != nil {
		return err
	}
	w.rv = list.ResourceVersion
	for i := range list.Items {
		w.record(&list.Items[i])
	}
	return nil
}

// run watches until ctx ends; the first list has been made.
func (w *resumingWatcher) run(ctx context.Context) {
	relist := func() {
		w.gones.Add(1)
		w.lists.Add(1)
		for ctx.Err() == nil && w.list(ctx) != nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	for ctx.Err() == nil {
		wi, err := w.client.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + w.name,
			ResourceVersion: w.rv, AllowWatchBookmarks: true})
		switch {
		case apierrors.IsGone(err) || apierrors.IsResourceExpired(err):
			relist()
			continue
		case err != nil:
			w.failures.Add(1) // 503 while no replica answers, say: retried
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for ev := range wi.ResultChan() {
			switch ev.Type {
			case watch.Error:
				if err := apierrors.FromObject(ev.Object); apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
					relist()
				} else {
					w.failures.Add(1)
				}
			case watch.Bookmark:
				if lh, ok := ev.Object.(*v1alpha1.LeaderHub); ok {
					w.rv = lh.ResourceVersion
				}
			default:
				if lh, ok := ev.Object.(*v1alpha1.LeaderHub); ok {
					w.record(lh)
				}
			}
		}
		wi.Stop()
		if ctx.Err() == nil {
			w.reconnects.Add(1)
		}
	}
}

// TestRollingRestartNoRelist: two replicas serve the view behind the
// aggregator (--enable-aggregator-routing, one EndpointSlice each), with
// 1,000 watchers of it through kube-apiserver, as edge nodes watch their
// pools. Each replica is restarted in turn as a Deployment's rollout does
// it (a new replica ready first; the old one out of the Service, then
// SIGTERM) while the pools' leaders keep changing. No watcher lists again
// and none gets 410 Gone: each resumes on the other replica from the version
// it holds, which the old replica's last bookmark brought past the new
// replica's first list. Every change reaches every watcher, and no replica
// needs SIGKILL. The bookmark interval is an hour, so only that last
// bookmark moves the watchers' versions.
func TestRollingRestartNoRelist(t *testing.T) {
	const pools, perPool, transports = 10, 100, 8
	ctx := testContext(t, 10*time.Minute)
	cp := startOwnControlPlane(t, ctx, framework.Options{AggregatorRouting: true})
	if err := cp.InstallCRDs(ctx); err != nil {
		t.Fatal(err)
	}
	args := []string{"--watch-bookmark-interval=1h", "--shutdown-delay-duration=2s", "--controllers=-materialize"}
	start := func(name string) *framework.LeaderHub {
		lh, err := cp.StartLeaderHub(testContext(t, 2*time.Minute), framework.LeaderHubOptions{Name: name, Args: args})
		if err != nil {
			t.Fatal(err)
		}
		framework.StopOnCleanup(t, lh.Process, 15*time.Second)
		return lh
	}
	replicas := []*framework.LeaderHub{start("leaderhub-roll-a"), start("leaderhub-roll-b")}
	if err := cp.ServeReplicas(ctx, replicas...); err != nil {
		t.Fatal(err)
	}
	admin, err := cp.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	admin.QPS, admin.Burst = 500, 1000
	nodePools := openyurtclient.NewForConfigOrDie(admin).AppsV1beta2().NodePools()
	name := func(i int) string { return fmt.Sprintf("roll-%d", i) }
	setLeaders := func(i int, leaders string, ip string) {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			np, err := nodePools.Get(ctx, name(i), metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			np.Status.LeaderEndpoints = []appsv1beta2.Leader{{NodeName: leaders, Address: ip}}
			_, err = nodePools.UpdateStatus(ctx, np, metav1.UpdateOptions{})
			return err == nil, nil
		})
		if err != nil {
			t.Errorf("setting pool %s's leaders: %v", name(i), err)
		}
	}
	for i := range pools {
		if _, err := nodePools.Create(ctx, &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: name(i)},
			Spec: appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		setLeaders(i, "first", fmt.Sprintf("10.60.%d.1", i))
	}

	// The watchers, through kube-apiserver, over several connections (each
	// client with a dialer of its own gets a transport of its own).
	var watchers []*resumingWatcher
	for i := range transports {
		cfg := *admin
		cfg.Dial = (&net.Dialer{}).DialContext
		client := leaderHubClient(t, &cfg).LeaderhubV1alpha1().LeaderHubs(framework.LeaderHubNamespace)
		for j := i; j < pools*perPool; j += transports {
			watchers = append(watchers, &resumingWatcher{client: client, name: v1alpha1.ObjectName(name(j % pools)), seen: map[string]time.Time{}})
		}
	}
	watchCtx, stopWatching := context.WithCancel(ctx)
	var running sync.WaitGroup
	defer func() { stopWatching(); running.Wait() }()
	for _, w := range watchers {
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			return w.list(ctx) == nil && w.current() != "", nil
		}); err != nil {
			t.Fatalf("the first list of %s through the aggregator: %v", w.name, err)
		}
		running.Go(func() { w.run(watchCtx) })
	}

	// Leader changes all along the roll, one pool after another.
	type change struct {
		pool    string
		leaders string
		at      time.Time
	}
	var changes []change
	writing, stopWriting := context.WithCancel(ctx)
	written := make(chan struct{})
	go func() {
		defer close(written)
		for n := 0; writing.Err() == nil; n++ {
			i := n % pools
			node := fmt.Sprintf("roll-%d", n)
			setLeaders(i, node, fmt.Sprintf("10.61.%d.%d", n/250, n%250+1))
			changes = append(changes, change{pool: v1alpha1.ObjectName(name(i)), leaders: node + "/" + fmt.Sprintf("10.61.%d.%d", n/250, n%250+1), at: time.Now()})
			time.Sleep(300 * time.Millisecond)
		}
	}()

	for i, old := range replicas {
		next := start(fmt.Sprintf("leaderhub-roll-%c2", 'a'+i))
		if err := cp.AddReplica(ctx, next); err != nil {
			t.Fatal(err)
		}
		if err := cp.RemoveReplica(ctx, old); err != nil {
			t.Fatal(err)
		}
		if err := old.Process.Stop(15 * time.Second); err != nil {
			t.Fatalf("SIGTERM to %s with watches open: %v", old.Process.Name, err)
		}
	}
	time.Sleep(2 * time.Second) // changes after the roll, too
	stopWriting()
	<-written

	// Every watcher ends at its pool's last leaders.
	final := map[string]string{}
	for _, c := range changes {
		final[c.pool] = c.leaders
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		for _, w := range watchers {
			if w.current() != final[w.name] {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		for _, w := range watchers {
			if got := w.current(); got != final[w.name] {
				t.Errorf("a watcher of %s has %q, want %q", w.name, got, final[w.name])
				break
			}
		}
	}
	var lists, gones, reconnects, failures int64
	var slowest time.Duration
	missed := 0
	for _, w := range watchers {
		lists += w.lists.Load()
		gones += w.gones.Load()
		reconnects += w.reconnects.Load()
		failures += w.failures.Load()
		w.mu.Lock()
		for _, c := range changes {
			if c.pool != w.name {
				continue
			}
			at, ok := w.seen[c.leaders]
			if !ok {
				missed++
				continue
			}
			slowest = max(slowest, at.Sub(c.at))
		}
		w.mu.Unlock()
	}
	if lists != 0 || gones != 0 {
		t.Errorf("the rolling restart cost the %d watchers %d LISTs and %d 410 Gone, want none", len(watchers), lists, gones)
	}
	if missed != 0 {
		t.Errorf("%d (watcher, change) pairs never delivered", missed)
	}
	t.Logf("rolling restart of 2 replicas under %d watchers through the aggregator, %d leader changes during it: "+
		"%d LISTs, %d 410s, %d watch resumptions, %d failed attempts retried; slowest delivery %v",
		len(watchers), len(changes), lists, gones, reconnects, failures, slowest.Round(time.Millisecond))
}
