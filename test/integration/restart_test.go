package integration

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	openyurtclient "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned"
	"github.com/leaderhub/leaderhub/test/framework"
)

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
// bookmark moves the watchers' versions. A second roll changes nothing
// while it runs, then every pool's leaders change once.
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
	var watchers []*framework.ResumingWatcher
	for i := range transports {
		cfg := *admin
		cfg.Dial = (&net.Dialer{}).DialContext
		client := leaderHubClient(t, &cfg).LeaderhubV1alpha1().LeaderHubs(framework.LeaderHubNamespace)
		for j := i; j < pools*perPool; j += transports {
			watchers = append(watchers, framework.NewResumingWatcher(client, v1alpha1.ObjectName(name(j%pools))))
		}
	}
	watchCtx, stopWatching := context.WithCancel(ctx)
	var running sync.WaitGroup
	defer func() { stopWatching(); running.Wait() }()
	for _, w := range watchers {
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			return w.List(ctx) == nil && w.Current() != "", nil
		}); err != nil {
			t.Fatalf("the first list of %s through the aggregator: %v", w.Name, err)
		}
		running.Go(func() { w.Run(watchCtx) })
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

	roll := func(generation int) {
		began := time.Now()
		defer func() { t.Logf("roll %d took %v", generation, time.Since(began).Round(time.Millisecond)) }()
		for i, old := range replicas {
			next := start(fmt.Sprintf("leaderhub-roll-%c%d", 'a'+i, generation))
			if err := cp.AddReplica(ctx, next); err != nil {
				t.Fatal(err)
			}
			if err := cp.RemoveReplica(ctx, old); err != nil {
				t.Fatal(err)
			}
			stopping := time.Now()
			if err := old.Process.Stop(15 * time.Second); err != nil {
				t.Fatalf("SIGTERM to %s with watches open: %v", old.Process.Name, err)
			}
			t.Logf("%s exited %v after SIGTERM", old.Process.Name, time.Since(stopping).Round(time.Millisecond))
			replicas[i] = next
		}
	}
	roll(2)
	time.Sleep(2 * time.Second) // changes after the roll, too
	stopWriting()
	<-written

	// A quiet roll: no NodePool changes while each replica is replaced, but
	// kube-apiserver's version moves on (here the replicas' EndpointSlices;
	// in a cluster Leases and Events), so each new replica starts at a
	// version newer than any the watchers hold. The old replica's last
	// bookmark carries a version confirmed by a consistent list, and the new
	// one confirms a version it has not seen yet the same way.
	roll(3)
	for i := range pools {
		n := len(changes)
		setLeaders(i, fmt.Sprintf("after-%d", n), fmt.Sprintf("10.62.0.%d", i+1))
		changes = append(changes, change{pool: v1alpha1.ObjectName(name(i)), leaders: fmt.Sprintf("after-%d/10.62.0.%d", n, i+1), at: time.Now()})
	}

	// Every watcher ends at its pool's last leaders.
	converging := time.Now()
	defer func() {
		t.Logf("the watchers converged %v after the last change", time.Since(converging).Round(time.Millisecond))
	}()
	final := map[string]string{}
	for _, c := range changes {
		final[c.pool] = c.leaders
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		for _, w := range watchers {
			if w.Current() != final[w.Name] {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		for _, w := range watchers {
			if got := w.Current(); got != final[w.Name] {
				t.Errorf("a watcher of %s has %q, want %q", w.Name, got, final[w.Name])
				break
			}
		}
	}
	var lists, gones, reconnects, failures int64
	var slowest time.Duration
	missed := 0
	for _, w := range watchers {
		lists += w.Lists.Load()
		gones += w.Gones.Load()
		reconnects += w.Reconnects.Load()
		failures += w.Failures.Load()
		for _, c := range changes {
			if c.pool != w.Name {
				continue
			}
			at, ok := w.SeenAt(c.leaders)
			if !ok {
				missed++
				continue
			}
			slowest = max(slowest, at.Sub(c.at))
		}
	}
	if lists != 0 || gones != 0 {
		t.Errorf("the rolling restart cost the %d watchers %d LISTs and %d 410 Gone, want none", len(watchers), lists, gones)
	}
	if missed != 0 {
		t.Errorf("%d (watcher, change) pairs never delivered", missed)
	}
	t.Logf("two rolling restarts of 2 replicas under %d watchers through the aggregator, %d leader changes during it: "+
		"%d LISTs, %d 410s, %d watch resumptions, %d failed attempts retried; slowest delivery %v",
		len(watchers), len(changes), lists, gones, reconnects, failures, slowest.Round(time.Millisecond))
}
