package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/test/framework"
)

// relist: name-selected watches of the view through kube-apiserver's
// aggregation layer, then leaderhub's own NodePool watch is broken and its
// resumption answered 410 (a test gate between leaderhub and kube-apiserver),
// so it relists while two pools change and one is deleted. Counted: watches
// the relist ended (each a reconnect for a real client), and of their
// resumptions from the last version they saw, those answered 410 (each a
// LIST for a real client, done here as a client-go reflector would).
func (e *env) relist(ctx context.Context) error {
	const prefix = "rl"
	pools, perPool := e.cfg.relistPools, e.cfg.relistWatchers/e.cfg.relistPools
	gate, err := e.cp.NewServiceAccountGate("leaderhub-relist")
	if err != nil {
		return err
	}
	defer func() { _ = gate.Close() }()
	kubeconfig := filepath.Join(e.cp.Dir, "leaderhub-relist-gate.kubeconfig")
	if err := gate.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}
	lh, err := e.cp.StartLeaderHub(ctx, framework.LeaderHubOptions{Name: "leaderhub-relist", Binary: e.cfg.relistBinary,
		Kubeconfig: kubeconfig, Args: []string{"--controllers=-materialize", "--v=1"}})
	if err != nil {
		return err
	}
	defer func() { _ = lh.Process.Stop(30 * time.Second) }()
	if err := e.cp.RegisterAPIService(ctx, lh); err != nil {
		return err
	}
	defer func() { _ = e.cp.RegisterAPIService(ctx, e.lh) }()
	if err := e.createPools(ctx, prefix, pools); err != nil {
		return err
	}
	view := versionedFor(e.admin).LeaderhubV1alpha1().LeaderHubs(ns)
	var listRV string
	if err := waitFor(ctx, 2*time.Minute, "the relist pools in the view", func(ctx context.Context) (bool, error) {
		list, err := view.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		listRV = list.ResourceVersion
		withLeaders := 0
		for _, item := range list.Items {
			if strings.HasPrefix(item.Name, v1alpha1.ObjectName(prefix+"-")) && len(item.Subsets) > 0 {
				withLeaders++
			}
		}
		return withLeaders >= pools, nil
	}); err != nil {
		return err
	}

	tr, err := newTransports(e.admin, 200)
	if err != nil {
		return err
	}
	defer tr.close()
	changed := map[string]bool{poolName(prefix, 0): true, poolName(prefix, 1): true, poolName(prefix, 2): true}
	var toChanged, toOthers atomic.Int64
	ws := make([]*streamWatch, 0, pools*perPool)
	poolOf := make([]string, 0, pools*perPool)
	for p := 0; p < pools; p++ {
		pool := poolName(prefix, p)
		counter := &toOthers
		if changed[pool] {
			counter = &toChanged
		}
		for i := 0; i < perPool; i++ {
			ws = append(ws, openWatch(ctx, tr.client(), leaderHubWatchURL(e.admin.Host, pool, listRV), func(string, []byte, time.Time) { counter.Add(1) }))
			poolOf = append(poolOf, pool)
			if len(ws)%100 == 0 {
				// Paced as scenario 4 paces them: 10,000 watch requests at
				// once starve the replica on a 2-core machine long enough for
				// kube-apiserver's availability check (5 s) to mark the
				// APIService unavailable, and every watch still waiting gets 503.
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	defer stopAll(ws)
	if failed, err := waitEstablished(ws, 5*time.Minute); failed > 0 {
		return fmt.Errorf("%d of %d watches not established: %w", failed, len(ws), err)
	}

	gate.Hold()
	if err := e.setLeaders(ctx, poolName(prefix, 0), []appsv1beta2.Leader{{NodeName: "relisted-0", Address: "10.251.0.1"}}); err != nil {
		return err
	}
	if err := e.setLeaders(ctx, poolName(prefix, 1), []appsv1beta2.Leader{{NodeName: "relisted-1", Address: "10.251.1.1"}}); err != nil {
		return err
	}
	if err := e.pools.AppsV1beta2().NodePools().Delete(ctx, poolName(prefix, 2), metav1.DeleteOptions{}); err != nil {
		return err
	}
	if err := gate.WaitHeld(ctx); err != nil {
		return fmt.Errorf("leaderhub never resumed its NodePool watch: %w", err)
	}
	relisted := time.Now()
	gate.Expire()
	// Until every watcher of a changed pool has its change or has ended.
	_ = waitFor(ctx, 2*time.Minute, "the changes delivered", func(context.Context) (bool, error) {
		for i, w := range ws {
			if !changed[poolOf[i]] {
				continue
			}
			select {
			case <-w.done:
			default:
				if w.events.Load() == 0 {
					return false, nil
				}
			}
		}
		return true, nil
	})
	delivered := time.Since(relisted)
	time.Sleep(5 * time.Second) // anything more?

	ended, resumes, lists := 0, 0, 0
	for i, w := range ws {
		select {
		case <-w.done:
		default:
			continue
		}
		ended++
		// A client resumes from the last version it saw, and lists on 410.
		rv := listRV
		if obj := w.lastObject(); obj != nil {
			var m struct {
				Metadata struct {
					ResourceVersion string `json:"resourceVersion"`
				} `json:"metadata"`
			}
			if json.Unmarshal(obj, &m) == nil && m.Metadata.ResourceVersion != "" {
				rv = m.Metadata.ResourceVersion
			}
		}
		resumes++
		code, err := getStatus(ctx, tr.client(), leaderHubWatchURL(e.admin.Host, poolOf[i], rv)+"&timeoutSeconds=1")
		if err != nil {
			return err
		}
		if code == http.StatusGone {
			lists++
			if _, err := view.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + v1alpha1.ObjectName(poolOf[i])}); err != nil {
				return err
			}
		}
	}
	binary := "this commit"
	if e.cfg.relistBinary != "" {
		binary = e.cfg.relistBinary
	}
	e.report.section("8. A relist of NodePools under 10,000 watchers",
		fmt.Sprintf("%d pools × %d name-selected watches of the view through kube-apiserver's aggregation layer (HTTP/2, 200 streams "+
			"per connection). leaderhub (%s) reaches kube-apiserver through a test gate, which breaks its NodePool watch and "+
			"answers the resumption 410, as kube-apiserver does once its watch cache has moved past the version, while two pools' "+
			"leaders change and one pool is deleted; leaderhub's reflector then relists. Each watch the relist ended is resumed "+
			"from the last version it saw, and listed when that is answered 410, as client-go's reflector does.", pools, perPool, binary),
		[]string{"measure", "value"}, [][]string{
			{"watches", fmt.Sprint(len(ws))},
			{"watches ended by the relist (client reconnects)", fmt.Sprint(ended)},
			{"resumptions answered 410 (client LISTs)", fmt.Sprint(lists) + " of " + fmt.Sprint(resumes)},
			{"events to the watchers of the 3 changed pools", fmt.Sprint(toChanged.Load())},
			{"events to the watchers of the other pools", fmt.Sprint(toOthers.Load())},
			{"from the relist to the last change delivered", delivered.Round(time.Millisecond).String()},
		}, relistBefore)
	return nil
}

// relistBefore is the same scenario measured once with the leaderhub before
// relists were diffed (commit 4556807, -relist-binary), which ended every
// watch on a relist and restarted its history at the list's version.
var relistBefore = strings.TrimSpace(`
Before (leaderhub at 4556807, which ended every watch of the view on a relist and restarted its history at the list's
version; measured 2026-11-27 with -relist-binary): 10000 of 10000 watches ended, 10000 of 10000 resumptions answered 410,
so 10000 reconnects and 10000 LISTs; 0 events were delivered, the changes reached clients only through those LISTs.`)

// getStatus sends GET url and returns the status code, reading no body.
func getStatus(ctx context.Context, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
