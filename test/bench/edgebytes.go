package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/test/framework"
)

// currentRVs returns list resourceVersions to watch from, so watches carry
// only what happens next: NodePools, LeaderHubs (through kube-apiserver) and
// Endpoints.
func (e *env) currentRVs(ctx context.Context) (np, lh, ep, es string, err error) {
	nps, err := e.pools.AppsV1beta2().NodePools().List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return
	}
	lhs, err := versionedFor(e.admin).LeaderhubV1alpha1().LeaderHubs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	eps, err := e.kube.CoreV1().Endpoints(ns).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return
	}
	ess, err := e.kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return
	}
	return nps.ResourceVersion, lhs.ResourceVersion, eps.ResourceVersion, ess.ResourceVersion, nil
}

type form struct {
	name string
	url  func(pool string) string
	cfg  *rest.Config
	// accept is the encoding asked for; JSON when empty.
	accept string
}

func sumBytes(ws []*streamWatch) (bytes, events int64) {
	for _, w := range ws {
		bytes += w.bytes.Load()
		events += w.events.Load()
	}
	return
}

// edgeBytes: the bytes each edge watcher receives for status churn and for
// leader changes, watching (a) its NodePool, (b) its LeaderHub through
// kube-apiserver, (c) its materialized Endpoints, (f) its EndpointSlices;
// then what the edge client (client/leaders) reads per leader change
// through each of its sources.
func (e *env) edgeBytes(ctx context.Context) error {
	c := e.cfg
	const prefix = "eb"
	// A second leaderhub, under a lease of its own, keeps the ConfigMap and
	// EndpointSlice forms, so the leaderhub the other scenarios measure
	// keeps the default form only.
	formsServer, err := e.cp.StartLeaderHub(ctx, framework.LeaderHubOptions{Name: "leaderhub-forms", User: "bench-forms",
		Groups: []string{"system:masters"}, Args: []string{"--controllers=materialize", "--materialize=configmap,endpointslice",
			"--leader-elect-resource-name=leaderhub-forms-bench", "--kube-api-qps=1000", "--kube-api-burst=2000", "--v=1"}})
	if err != nil {
		return err
	}
	defer func() { _ = formsServer.Process.Stop(10 * time.Second) }()
	if err := e.publishPools(ctx, prefix, c.edgePools, 5*time.Minute); err != nil {
		return err
	}
	if err := waitFor(ctx, 5*time.Minute, "every pool's EndpointSlice and ConfigMap", func(ctx context.Context) (bool, error) {
		slices, err := e.kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelManagedBy + "=" + v1alpha1.ManagedByValue})
		if err != nil {
			return false, nil
		}
		cms, err := e.kube.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelManagedBy + "=" + v1alpha1.ManagedByValue})
		return err == nil && countPrefix(len(slices.Items), func(i int) string { return slices.Items[i].Labels[v1alpha1.LabelPoolName] }, prefix+"-") >= c.edgePools &&
			countPrefix(len(cms.Items), func(i int) string { return cms.Items[i].Labels[v1alpha1.LabelPoolName] }, prefix+"-") >= c.edgePools, nil
	}); err != nil {
		return err
	}
	npRV, lhRV, epRV, esRV, err := e.currentRVs(ctx)
	if err != nil {
		return err
	}
	host := e.admin.Host
	forms := []form{
		{"(a) own NodePool", func(p string) string { return nodePoolWatchURL(host, p, npRV) }, e.admin, ""},
		{"(b) leader-hub view", func(p string) string { return leaderHubWatchURL(host, p, lhRV) }, e.admin, ""},
		{"(c) materialized Endpoints", func(p string) string { return endpointsWatchURL(host, p, epRV) }, e.admin, ""},
		{"(d) leader-hub view, protobuf", func(p string) string { return leaderHubWatchURL(host, p, lhRV) }, e.admin, protobufMediaType},
		{"(e) materialized Endpoints, protobuf", func(p string) string { return endpointsWatchURL(host, p, epRV) }, e.admin, protobufMediaType},
		{"(f) materialized EndpointSlices", func(p string) string { return endpointSliceWatchURL(host, p, esRV) }, e.admin, ""},
		{"(g) materialized EndpointSlices, protobuf", func(p string) string { return endpointSliceWatchURL(host, p, esRV) }, e.admin, protobufMediaType},
	}
	watchers := make([][]*streamWatch, len(forms))
	for f, fm := range forms {
		tr, err := newTransports(fm.cfg, 200)
		if err != nil {
			return err
		}
		defer tr.close()
		for p := 0; p < c.edgePools; p++ {
			for w := 0; w < c.edgeWatchers; w++ {
				watchers[f] = append(watchers[f], openWatchAs(ctx, tr.client(), fm.url(poolName(prefix, p)), cmp.Or(fm.accept, jsonMediaType), nil))
			}
		}
		if failed, err := waitEstablished(watchers[f], 2*time.Minute); failed > 0 {
			return fmt.Errorf("%s: %d watches failed: %w", fm.name, failed, err)
		}
	}
	defer func() {
		for _, ws := range watchers {
			stopAll(ws)
		}
	}()
	n := int64(c.edgePools * c.edgeWatchers)

	// Phase 1: status churn only.
	if err := parallel(c.edgePools*c.edgeStatusUpdates, 8, func(i int) error {
		return e.churn(ctx, poolName(prefix, i%c.edgePools), i/c.edgePools)
	}); err != nil {
		return err
	}
	if err := waitFor(ctx, 5*time.Minute, "NodePool watchers receiving the churn", func(context.Context) (bool, error) {
		_, ev := sumBytes(watchers[0])
		return ev >= n*int64(c.edgeStatusUpdates), nil
	}); err != nil {
		return err
	}
	time.Sleep(3 * time.Second) // anything the other forms would get has arrived
	churnBytes := make([]int64, len(forms))
	churnEvents := make([]int64, len(forms))
	for f := range forms {
		churnBytes[f], churnEvents[f] = sumBytes(watchers[f])
	}

	// Phase 2: leader changes.
	for l := 0; l < c.edgeLeaderChanges; l++ {
		if err := parallel(c.edgePools, 8, func(p int) error {
			return e.setLeaders(ctx, poolName(prefix, p), twoLeaders(1000+p*c.edgeLeaderChanges+l))
		}); err != nil {
			return err
		}
	}
	// Each leader change is a NodePool write of its own, so the NodePool and
	// view watchers get one event per change. The controller writes an
	// Endpoints with the leaders of the moment, so changes that come while
	// a pool waits in its queue reach Endpoints watchers as one: those must
	// end at the last leaders.
	// A protobuf event holds the address as its plain bytes.
	atLastLeaders := func(ws []*streamWatch, protobuf bool) bool {
		for i, w := range ws {
			p := i / c.edgeWatchers
			last := twoLeaders(1000 + p*c.edgeLeaderChanges + c.edgeLeaderChanges - 1)[0].Address
			want := []byte(`"ip":"` + last + `"`)
			if protobuf {
				want = []byte(last)
			}
			if !bytes.Contains(w.lastObject(), want) {
				return false
			}
		}
		return true
	}
	// An EndpointSlice holds an address as a plain string.
	atLastSliceLeaders := func(ws []*streamWatch, protobuf bool) bool {
		for i, w := range ws {
			p := i / c.edgeWatchers
			last := twoLeaders(1000 + p*c.edgeLeaderChanges + c.edgeLeaderChanges - 1)[0].Address
			want := []byte(`"` + last + `"`)
			if protobuf {
				want = []byte(last)
			}
			if !bytes.Contains(w.lastObject(), want) {
				return false
			}
		}
		return true
	}
	waitErr := waitFor(ctx, 3*time.Minute, "every watcher receiving the leader changes", func(context.Context) (bool, error) {
		_, npEvents := sumBytes(watchers[0])
		_, viewEvents := sumBytes(watchers[1])
		_, viewPBEvents := sumBytes(watchers[3])
		return npEvents >= n*int64(c.edgeStatusUpdates+c.edgeLeaderChanges) &&
			viewEvents >= n*int64(c.edgeLeaderChanges) && viewPBEvents >= n*int64(c.edgeLeaderChanges) &&
			atLastLeaders(watchers[1], false) && atLastLeaders(watchers[2], false) &&
			atLastLeaders(watchers[3], true) && atLastLeaders(watchers[4], true) &&
			atLastSliceLeaders(watchers[5], false) && atLastSliceLeaders(watchers[6], true), nil
	})
	time.Sleep(2 * time.Second)
	var rows [][]string
	perWatcher := func(b int64) float64 { return float64(b) / float64(n) }
	for f, fm := range forms {
		b, ev := sumBytes(watchers[f])
		leaderBytes, leaderEvents := b-churnBytes[f], ev-churnEvents[f]
		rows = append(rows, []string{fm.name,
			fmt.Sprintf("%.0f B (%.1f events)", perWatcher(churnBytes[f]), float64(churnEvents[f])/float64(n)),
			fmt.Sprintf("%.0f B (%.1f events)", perWatcher(leaderBytes), float64(leaderEvents)/float64(n)),
			fmt.Sprintf("%.0f B", perWatcher(b)),
			ratio(float64(churnBytes[0]), float64(churnBytes[f])), ""})
	}
	for f := range forms {
		total0, _ := sumBytes(watchers[0])
		totalF, _ := sumBytes(watchers[f])
		rows[f][5] = ratio(float64(total0), float64(totalF))
	}
	// Per leader change, the view against the Endpoints form, each in protobuf
	// and JSON: the bytes an edge node pays for what it does need.
	perChange := func(f int) float64 {
		b, _ := sumBytes(watchers[f])
		return float64(b-churnBytes[f]) / float64(n) / float64(c.edgeLeaderChanges)
	}
	perChangeNote := fmt.Sprintf("Per leader change and watcher: view %.0f B in JSON, %.0f B in protobuf (%.2f× JSON); "+
		"Endpoints %.0f B in JSON, %.0f B in protobuf; EndpointSlices %.0f B in JSON, %.0f B in protobuf. "+
		"Goal: view protobuf ≤ 0.5× view JSON (%v) and ≤ Endpoints protobuf (%v).",
		perChange(1), perChange(3), perChange(3)/perChange(1), perChange(2), perChange(4), perChange(5), perChange(6),
		perChange(3) <= 0.5*perChange(1), perChange(3) <= perChange(4))
	delivered := fmt.Sprintf("Every leader change delivered to every view watcher (JSON and protobuf) as an event of its own, and every Endpoints watcher "+
		"at the last leaders (the controller writes one Endpoints for changes that come while the pool is queued): %v.", waitErr == nil)
	if waitErr != nil {
		delivered += " (" + waitErr.Error() + ")"
	}
	e.report.section("1. Edge bytes per watcher",
		fmt.Sprintf("%d pools × %d watchers per form (%d watch streams per form, name-selected, through kube-apiserver); "+
			"%d status updates per pool that leave the projection alone (ready/unready counts, node list), then %d leader changes per pool.",
			c.edgePools, c.edgeWatchers, n, c.edgeStatusUpdates, c.edgeLeaderChanges),
		[]string{"watch", "status churn", "leader changes", "total", "churn a/x", "total a/x"}, rows,
		delivered, perChangeNote,
		"Goal: ≥ 100× fewer bytes than (a) for status churn, with every leader change delivered. "+
			"(f) and (g) select the pool's EndpointSlices by label; the ConfigMap and EndpointSlice forms are kept by a second "+
			"leaderhub (its own lease), so the one scenarios 6 and 7 measure keeps the Endpoints form only.")
	return e.clientBytes(ctx, prefix)
}
