package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

// aggregator: concurrent watches of the view through kube-apiserver's
// aggregation layer, one client connection each, all on one pool; every
// watch must be established and receive one change.
func (e *env) aggregator(ctx context.Context) error {
	const prefix = "ag"
	if err := e.publishPools(ctx, prefix, 1, time.Minute); err != nil {
		return err
	}
	var rows [][]string
	largest := 0
	for i, step := range strings.Split(e.cfg.aggregatorSteps, ",") {
		var n int
		if _, err := fmt.Sscan(step, &n); err != nil || n <= 0 {
			return fmt.Errorf("bad -aggregator-steps entry %q", step)
		}
		row, ok, err := e.aggregatorStep(ctx, prefix, n, i)
		if err != nil {
			return err
		}
		rows = append(rows, row)
		if !ok {
			break
		}
		largest = n
	}
	e.report.section("4. Watches through the aggregation layer",
		fmt.Sprintf("Steps %s: that many concurrent watches of one LeaderHub through kube-apiserver, each on its own TLS connection; "+
			"then one leader change. leaderhub's Go heap (after two forced GCs) and goroutines are read before and after each step's "+
			"watches are established.", e.cfg.aggregatorSteps),
		[]string{"watches", "established", "opened again", "received the change", "dropped", "leaderhub heap per proxied watch",
			"goroutine stacks per proxied watch", "goroutines per proxied watch", "time to establish"}, rows,
		fmt.Sprintf("Largest count that held: %d. Watches are opened 100 at a time, each hundred once the one before is "+
			"established; a watch whose first attempt failed is opened again, once (\"opened again\"): kube-apiserver's HTTP/2 "+
			"server closes a connection whose client sends no SETTINGS frame within 2 s of its preface, which the bench's own "+
			"client, busy with thousands of TLS handshakes on 2 cores, sometimes missed (see openPaced in test/bench/watch.go).", largest))
	return nil
}

func (e *env) aggregatorStep(ctx context.Context, prefix string, n, step int) ([]string, bool, error) {
	tr, err := newTransports(e.admin, 1)
	if err != nil {
		return nil, false, err
	}
	marker := fmt.Sprintf("10.250.%d.1", step)
	var got atomic.Int64
	before, err := goFootprint(ctx, e.direct, "")
	if err != nil {
		return nil, false, err
	}
	start := time.Now()
	clients := make([]*http.Client, 0, n)
	ws, retried, firstFailures := openPaced(0, n, 100, 2*time.Minute, func(int) *streamWatch {
		cl := tr.client()
		clients = append(clients, cl)
		return openWatch(ctx, cl, leaderHubWatchURL(e.admin.Host, poolName(prefix, 0), ""), func(typ string, obj []byte, _ time.Time) {
			if bytes.Contains(obj, []byte(`"`+marker+`"`)) {
				got.Add(1)
			}
		})
	})
	if retried > 0 {
		fmt.Fprintf(os.Stderr, "aggregator: %d of %d watches opened again after: %v\n", retried, n, firstFailures)
	}
	defer func() {
		stopAll(ws)
		for _, cl := range clients {
			cl.CloseIdleConnections()
		}
	}()
	failed, why := waitEstablished(ws, 5*time.Minute)
	established := n - failed
	if why != nil {
		fmt.Fprintf(os.Stderr, "aggregator: %d of %d watches not established: %v\n", failed, n, why)
	}
	took := time.Since(start)
	after, err := goFootprint(ctx, e.direct, "")
	if err != nil {
		return nil, false, err
	}
	if err := e.setLeaders(ctx, poolName(prefix, 0), []appsv1beta2.Leader{{NodeName: "agg-leader", Address: marker}}); err != nil {
		return nil, false, err
	}
	_ = waitFor(ctx, 2*time.Minute, "every watch receiving the change", func(context.Context) (bool, error) {
		return got.Load() >= int64(established), nil
	})
	dropped := 0
	for _, w := range ws {
		select {
		case <-w.done:
			dropped++
		default:
		}
	}
	per := after.minus(before).per(float64(max(established, 1)))
	ok := established == n && got.Load() == int64(n) && dropped == 0
	return []string{fmt.Sprint(n), fmt.Sprint(established), fmt.Sprint(retried), fmt.Sprint(got.Load()), fmt.Sprint(dropped),
		kib(per.heap), kib(per.stacks), fmt.Sprintf("%.2f", per.goroutines), took.Round(time.Second).String()}, ok, nil
}
