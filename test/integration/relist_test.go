package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	openyurtclient "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned"
	"github.com/leaderhub/leaderhub/test/framework"
)

// relistWatcher is one name-selected watch and what it received.
type relistWatcher struct {
	pool   string
	w      watch.Interface
	mu     sync.Mutex
	events []string // "TYPE leaders"
	ended  bool
}

func (rw *relistWatcher) read() {
	for ev := range rw.w.ResultChan() {
		lh, ok := ev.Object.(*v1alpha1.LeaderHub)
		rw.mu.Lock()
		if ok {
			rw.events = append(rw.events, fmt.Sprintf("%s %s", ev.Type, leaderHubLeaders(lh)))
		} else {
			rw.events = append(rw.events, fmt.Sprintf("%s %T", ev.Type, ev.Object))
		}
		rw.mu.Unlock()
	}
	rw.mu.Lock()
	rw.ended = true
	rw.mu.Unlock()
}

func (rw *relistWatcher) state() ([]string, bool) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return append([]string(nil), rw.events...), rw.ended
}

// TestViewRelistEndsNoWatch: with 1,000 name-selected watchers of ten pools
// open, leaderhub's NodePool watch is broken and its resumption answered
// 410 (as kube-apiserver does when the watch cache has moved on), so its
// reflector relists, while two pools change and one is deleted. No watcher
// is ended; each watcher of a changed pool gets exactly its change, the
// others get nothing; a client resuming from before the relist gets the
// changes, not 410.
func TestViewRelistEndsNoWatch(t *testing.T) {
	const pools, perPool = 10, 100
	ctx := testContext(t, 5*time.Minute)
	gate, kubeconfig := leaderHubGate(t, controlPlane, "leaderhub-relist")
	lh, err := controlPlane.StartLeaderHub(ctx, framework.LeaderHubOptions{Name: "leaderhub-relist", Kubeconfig: kubeconfig,
		Args: []string{"--controllers=-materialize", "--watch-bookmark-interval=1h"}})
	if err != nil {
		t.Fatal(err)
	}
	framework.StopOnCleanup(t, lh.Process, 10*time.Second)

	var names []string
	for i := 0; i < pools; i++ {
		name := fmt.Sprintf("rl-%d", i)
		names = append(names, name)
		createPool(t, name, leaders(fmt.Sprintf("a%d=10.40.%d.1", i, i)))
	}
	cfg, err := lh.RESTConfigFor(controlPlane, "relist-watcher", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit for 1,000 watches
	client := leaderHubClient(t, cfg).LeaderhubV1alpha1().LeaderHubs(viewNS)
	var before string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := client.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		found := 0
		for _, item := range list.Items {
			if strings.HasPrefix(item.Name, "leader-hub-rl-") && leaderHubLeaders(&item) != "" {
				found++
			}
		}
		before = list.ResourceVersion
		return found == pools, nil
	})
	if err != nil {
		t.Fatal("the view never served the ten pools")
	}

	watchers := make([]*relistWatcher, 0, pools*perPool)
	for _, pool := range names {
		for i := 0; i < perPool; i++ {
			w, err := client.Watch(ctx, metav1.ListOptions{ResourceVersion: before,
				FieldSelector: fields.OneTermEqualSelector("metadata.name", v1alpha1.ObjectName(pool)).String()})
			if err != nil {
				t.Fatalf("watch %d of %s: %v", i, pool, err)
			}
			rw := &relistWatcher{pool: pool, w: w}
			watchers = append(watchers, rw)
			go rw.read()
		}
	}
	t.Cleanup(func() {
		for _, rw := range watchers {
			rw.w.Stop()
		}
	})
	if got := metricValue(t, lh, "leaderhub_view_watchers"); got != pools*perPool {
		t.Fatalf("leaderhub_view_watchers = %v, want %d", got, pools*perPool)
	}

	gate.Hold()
	setLeaders(t, "rl-0", leaders("b0=10.40.0.2"))
	setLeaders(t, "rl-1", leaders("b1=10.40.1.2"))
	if err := clientset(t).AppsV1beta2().NodePools().Delete(ctx, "rl-2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The changes are in kube-apiserver; leaderhub has not seen them.
	if lhs, err := client.Get(ctx, "leader-hub-rl-0", metav1.GetOptions{}); err != nil || leaderHubLeaders(lhs) != "a0/10.40.0.1" {
		t.Fatalf("leaderhub saw a change through the held watch: %v %v", lhs, err)
	}
	if err := gate.WaitHeld(ctx); err != nil {
		t.Fatalf("leaderhub never tried to resume its NodePool watch: %v", err)
	}
	gate.Expire()

	want := map[string][]string{"rl-0": {"MODIFIED b0/10.40.0.2"}, "rl-1": {"MODIFIED b1/10.40.1.2"}, "rl-2": {"DELETED a2/10.40.2.1"}}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		for _, rw := range watchers {
			if events, _ := rw.state(); len(events) < len(want[rw.pool]) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the watchers of the changed pools did not all get their change (expired resumptions: %d)\n%s", gate.Expired(), lh.Process.Tail(4096))
	}
	// A client that was away resumes from before the relist.
	resumed, err := client.Watch(ctx, metav1.ListOptions{ResourceVersion: before})
	if err != nil {
		t.Fatalf("resuming from %s, before the relist: %v", before, err)
	}
	defer resumed.Stop()
	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < 3 {
		select {
		case ev, ok := <-resumed.ResultChan():
			if !ok {
				t.Fatalf("the resumed watch ended after %v", got)
			}
			lh, isLH := ev.Object.(*v1alpha1.LeaderHub)
			if !isLH {
				t.Fatalf("resumed watch: %s %#v", ev.Type, ev.Object)
			}
			if strings.HasPrefix(lh.Name, "leader-hub-rl-") {
				got = append(got, fmt.Sprintf("%s %s %s", ev.Type, lh.Name, leaderHubLeaders(lh)))
			}
		case <-timeout:
			t.Fatalf("the resumed watch got only %v", got)
		}
	}
	wantResumed := []string{"MODIFIED leader-hub-rl-0 b0/10.40.0.2", "MODIFIED leader-hub-rl-1 b1/10.40.1.2", "DELETED leader-hub-rl-2 a2/10.40.2.1"}
	if strings.Join(got, ";") != strings.Join(wantResumed, ";") {
		t.Errorf("resumed from before the relist: %v, want %v", got, wantResumed)
	}

	// Nothing more for anyone: every pool left changes once more, and each
	// watcher's next event must be that change. A stray event would come
	// before it in the watcher's ordered stream.
	for i, pool := range names {
		if pool == "rl-2" {
			continue
		}
		setLeaders(t, pool, leaders(fmt.Sprintf("z%d=10.49.%d.9", i, i)))
		want[pool] = append(want[pool], fmt.Sprintf("MODIFIED z%d/10.49.%d.9", i, i))
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		for _, rw := range watchers {
			if events, gone := rw.state(); !gone && len(events) < len(want[rw.pool]) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatal("the watchers did not all get the last change of their pool")
	}
	ended, wrong := 0, map[string]int{}
	for _, rw := range watchers {
		events, gone := rw.state()
		if gone {
			ended++
		}
		if strings.Join(events, ";") != strings.Join(want[rw.pool], ";") {
			wrong[fmt.Sprintf("%s got %v", rw.pool, events)]++
		}
	}
	if ended > 0 || len(wrong) > 0 {
		t.Errorf("%d watchers ended; watchers with the wrong events: %v", ended, wrong)
	}
	if gate.Expired() < 1 {
		t.Errorf("leaderhub's resumption was never expired: no relist was forced")
	}
	resumed.Stop()
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return metricValue(t, lh, "leaderhub_view_watchers") == pools*perPool, nil
	}); err != nil {
		t.Errorf("leaderhub_view_watchers = %v after the relist, want %d", metricValue(t, lh, "leaderhub_view_watchers"), pools*perPool)
	}
	if log := lh.Process.Tail(1 << 20); !strings.Contains(log, "NodePools relisted; sent the difference to watchers of the view") {
		t.Errorf("leaderhub did not relist:\n%s", lh.Process.Tail(4096))
	}
}

// TestViewRelistAfterCompaction: a relist forced by kube-apiserver itself,
// not by the gate. kube-apiserver runs without its watch cache, so a watch
// is etcd's: leaderhub's NodePool watch breaks, two of three pools change,
// etcd is compacted past the version leaderhub had, and its resumption gets
// kube-apiserver's own 410. leaderhub relists; no view watch ends, and the
// next event of each watcher is its pool's change (the unchanged pool's, a
// change made afterwards).
func TestViewRelistAfterCompaction(t *testing.T) {
	ctx := testContext(t, 4*time.Minute)
	cp := startOwnControlPlane(t, ctx, framework.Options{APIServerArgs: []string{"--watch-cache=false"}})
	if err := cp.InstallCRDs(ctx); err != nil {
		t.Fatal(err)
	}
	gate, kubeconfig := leaderHubGate(t, cp, "leaderhub-compaction")
	lh, err := cp.StartLeaderHub(ctx, framework.LeaderHubOptions{Name: "leaderhub-compaction", Kubeconfig: kubeconfig,
		Args: []string{"--controllers=-materialize", "--watch-bookmark-interval=1h"}})
	if err != nil {
		t.Fatal(err)
	}
	framework.StopOnCleanup(t, lh.Process, 10*time.Second)
	admin, err := cp.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	kube, err := cp.KubeClient()
	if err != nil {
		t.Fatal(err)
	}
	env := &clusterEnv{cp: cp, kube: kube, pools: openyurtclient.NewForConfigOrDie(admin)}
	pools := []string{"cp-0", "cp-1", "cp-2"}
	for i, pool := range pools {
		createPoolIn(t, env, pool, leaders(fmt.Sprintf("a%d=10.45.%d.1", i, i)))
	}
	last, err := env.pools.AppsV1beta2().NodePools().Get(ctx, "cp-2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := lh.RESTConfigFor(cp, "compaction-watcher", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	client := leaderHubClient(t, cfg).LeaderhubV1alpha1().LeaderHubs(framework.LeaderHubNamespace)
	list, err := client.List(ctx, metav1.ListOptions{ResourceVersion: last.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	watches := map[string]watch.Interface{}
	for _, pool := range pools {
		w, err := client.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion,
			FieldSelector: fields.OneTermEqualSelector("metadata.name", v1alpha1.ObjectName(pool)).String()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		watches[pool] = w
	}

	gate.Hold()
	env.setLeaders(t, "cp-0", leaders("b0=10.45.0.2"))
	env.setLeaders(t, "cp-1", leaders("b1=10.45.1.2"))
	if err := gate.WaitHeld(ctx); err != nil {
		t.Fatalf("leaderhub never tried to resume its NodePool watch: %v", err)
	}
	rev, err := cp.CompactEtcd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gate.Release()
	env.setLeaders(t, "cp-2", leaders("b2=10.45.2.2"))
	for i, pool := range pools {
		ev := nextEvent(t, watches[pool], 30*time.Second)
		want := fmt.Sprintf("b%d/10.45.%d.2", i, i)
		if got, ok := ev.Object.(*v1alpha1.LeaderHub); !ok || ev.Type != watch.Modified || leaderHubLeaders(got) != want {
			t.Errorf("%s: first event after the compaction %s %v, want MODIFIED %s", pool, ev.Type, ev.Object, want)
		}
	}
	// A reflector relists only when its resumption is refused as expired;
	// the gate passed it on, so kube-apiserver refused it.
	if log := lh.Process.Tail(1 << 20); !strings.Contains(log, "NodePools relisted; sent the difference to watchers of the view") {
		t.Errorf("leaderhub did not relist:\n%s", lh.Process.Tail(4096))
	}
	if gate.Expired() != 0 {
		t.Errorf("the gate answered %d resumptions itself; kube-apiserver was to", gate.Expired())
	}

	if got := seriesValue(t, scrapeFrom(t, cp, lh), "leaderhub_view_watchers"); got != float64(len(pools)) {
		t.Errorf("leaderhub_view_watchers = %v, want %d: a watch ended", got, len(pools))
	}
	t.Logf("etcd compacted at revision %d; leaderhub's resumption from before it was refused by kube-apiserver, and it relisted", rev)
}
