package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/test/fixtures"
	"github.com/leaderhub/leaderhub/test/framework"
)

// yurtHubBytes: two YurtHubs (the patched build) of pool 0, one with
// --leader-hub-source=leaderhub, one with the flag at its default, whose
// ConfigMap path is upstream's code unchanged; each reaches kube-apiserver
// through a framework.CountingProxy that sorts the response bytes it reads
// by resource. Leader addresses are in a network namespace of the bench's
// own (a YurtHub dials its leaders). It returns the 1b rows: bytes per
// leader change read for the leaders (the view, the ConfigMaps), and the
// note on what both read besides.
func (e *env) yurtHubBytes(ctx context.Context, prefix string) ([][]string, string, error) {
	if _, err := framework.YurtHubBinary(); err != nil {
		return nil, "", err
	}
	pool := poolName(prefix, 0)
	if err := framework.ApplyYurtHubPrerequisites(ctx, e.kube); err != nil {
		return nil, "", err
	}
	ns, err := framework.NewNetNS(2)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = ns.Delete() }()
	classify := func(r *http.Request) string {
		for _, resource := range []string{"leaderhubs", "configmaps", "nodepools"} {
			if strings.Contains(r.URL.Path, "/"+resource) {
				return resource
			}
		}
		return "other"
	}
	type hub struct {
		source, node string
		proxy        *framework.CountingProxy
		yh           *framework.YurtHub
		// logged matches the line the hub logs once it applied a leader
		// at address (the ConfigMap path logs no addresses).
		logged func(address string) *regexp.Regexp
		offset int64
	}
	hubs := []*hub{
		{source: "leaderhub", node: "yhb-view", logged: func(address string) *regexp.Regexp {
			return regexp.MustCompile(`after leaderhub view \(stale=false\).*leaders: \[` + regexp.QuoteMeta(address) + `\]`)
		}},
		{source: "", node: "yhb-configmap", logged: func(string) *regexp.Regexp {
			return regexp.MustCompile(`after (added|updated) configmap, source for pool scope metadata: pool`)
		}},
	}
	leader := func(step int) []appsv1beta2.Leader {
		i := step % 2
		return []appsv1beta2.Leader{{NodeName: fmt.Sprintf("yhb-leader-%d", i), Address: ns.IPv4[i].String()}}
	}
	// The pool's leader is in the namespace before any YurtHub starts.
	if err := e.setLeaders(ctx, pool, leader(0)); err != nil {
		return nil, "", err
	}
	for _, h := range hubs {
		if _, err := framework.CreateNode(ctx, e.kube, fixtures.Node(h.node, pool, true, "10.251.255.9")); err != nil {
			return nil, "", err
		}
		if h.proxy, err = e.cp.StartCountingProxy("system:node:"+h.node, []string{"openyurt:yurthub", "system:nodes"}, classify); err != nil {
			return nil, "", err
		}
		defer func() { _ = h.proxy.Close() }()
		if h.yh, err = e.cp.StartYurtHub(ctx, framework.YurtHubOptions{Node: h.node, Pool: pool, LeaderHubSource: h.source,
			Args: []string{"--server-addr=" + h.proxy.URL}}); err != nil {
			return nil, "", err
		}
		defer func() { _ = h.yh.Stop(10 * time.Second) }()
	}
	// applied waits until both hubs applied leader l; change writes the
	// pool's leader of a step, then waits for it.
	applied := func(l []appsv1beta2.Leader) error {
		for _, h := range hubs {
			_, next, err := h.yh.WaitLog(ctx, h.offset, h.logged(l[0].Address), time.Minute)
			if err != nil {
				return err
			}
			h.offset = next
		}
		return nil
	}
	change := func(step int) error {
		if err := e.setLeaders(ctx, pool, leader(step)); err != nil {
			return err
		}
		return applied(leader(step))
	}
	if err := applied(leader(0)); err != nil {
		return nil, "", err
	}
	time.Sleep(2 * time.Second)
	before := map[*hub]map[string]int64{}
	classes := []string{"leaderhubs", "configmaps", "nodepools"}
	for _, h := range hubs {
		before[h] = map[string]int64{}
		for _, c := range classes {
			before[h][c] = h.proxy.Bytes(c)
		}
	}
	const changes = 10
	for step := 1; step <= changes; step++ {
		if err := change(step); err != nil {
			return nil, "", err
		}
	}
	time.Sleep(2 * time.Second)
	per := func(h *hub, class string) float64 {
		return float64(h.proxy.Bytes(class)-before[h][class]) / float64(changes)
	}
	view, configMap := hubs[0], hubs[1]
	rows := [][]string{
		{"patched YurtHub, `--leader-hub-source=leaderhub` (its client on the view)", fmt.Sprintf("%.0f B", per(view, "leaderhubs"))},
		{"YurtHub's ConfigMap informer (the flag at its default: upstream's code path)", fmt.Sprintf("%.0f B", per(configMap, "configmaps"))},
	}
	note := fmt.Sprintf("The YurtHub rows: %d leader changes of one pool, each read by two YurtHubs running at once, "+
		"through a proxy that counts the response bytes by resource. Besides, each YurtHub's NodePool informer (its filters') "+
		"read %.0f B (view hub) and %.0f B (ConfigMap hub) per change, and the view hub's ConfigMap informer (yurt-hub-cfg only) %.0f B.",
		changes, per(view, "nodepools"), per(configMap, "nodepools"), per(view, "configmaps"))
	return rows, note, nil
}
