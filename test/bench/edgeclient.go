package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"

	leaderclient "github.com/leaderhub/leaderhub/client/leaders"
)

// countingTransport counts the response body bytes of every request.
type countingTransport struct {
	rt http.RoundTripper
	n  *atomic.Int64
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err == nil {
		resp.Body = countingBody{ReadCloser: resp.Body, n: t.n}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// clientBytes: the edge client as an agent runs it, one per pool, held to
// one source at a time: the bytes it reads per leader change (response
// bodies: watch events, and any relist), with the encoding it asks for
// (protobuf for every source).
func (e *env) clientBytes(ctx context.Context, prefix string) error {
	c := e.cfg
	var rows [][]string
	for _, src := range leaderclient.DefaultSources {
		var read atomic.Int64
		cfg := rest.CopyConfig(e.admin)
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt: rt, n: &read} })
		runCtx, cancel := context.WithCancel(ctx)
		clients := make([]*leaderclient.Client, c.edgePools)
		for p := range clients {
			cl, err := leaderclient.New(leaderclient.Options{Config: cfg, Pool: poolName(prefix, p), Sources: []leaderclient.Source{src},
				ProbeInterval: time.Minute})
			if err != nil {
				cancel()
				return err
			}
			clients[p] = cl
			go func() { _ = cl.Run(runCtx) }()
		}
		// change sets every pool's leaders (seeded by the step) and waits
		// until every client has them.
		base := 2000 + 100*len(rows)
		change := func(step int) error {
			seed := func(p int) int { return base + 50*step + p }
			if err := parallel(c.edgePools, 8, func(p int) error { return e.setLeaders(ctx, poolName(prefix, p), twoLeaders(seed(p))) }); err != nil {
				return err
			}
			return waitFor(ctx, 2*time.Minute, fmt.Sprintf("every %s client at change %d", src, step), func(context.Context) (bool, error) {
				for p, cl := range clients {
					cur, ok := cl.Current()
					if !ok || cur.Source != src || len(cur.Leaders) == 0 || !strings.Contains(cur.Leaders[0].IP, twoLeaders(seed(p))[0].Address) {
						return false, nil
					}
				}
				return true, nil
			})
		}
		if err := change(0); err != nil {
			cancel()
			return err
		}
		time.Sleep(time.Second)
		before := read.Load()
		changes := c.edgeLeaderChanges
		for l := 1; l <= changes; l++ {
			if err := change(l); err != nil {
				cancel()
				return err
			}
		}
		time.Sleep(time.Second)
		perChange := float64(read.Load()-before) / float64(c.edgePools*changes)
		cancel()
		rows = append(rows, []string{string(src), fmt.Sprintf("%.0f B", perChange)})
	}
	hubRows, hubNote, err := e.yurtHubBytes(ctx, prefix)
	if err != nil {
		return fmt.Errorf("YurtHub rows: %w", err)
	}
	e.report.section("1b. The edge client, bytes per leader change by source",
		fmt.Sprintf("client/leaders as an edge agent runs it, one client per pool (%d), each held to one source; %d leader changes "+
			"per pool after the clients had synced. Bytes are the response bodies the client reads (watch events, and bookmarks), "+
			"in protobuf for every source, through kube-apiserver.", c.edgePools, c.edgeLeaderChanges),
		[]string{"source", "bytes per leader change and client"}, append(rows, hubRows...),
		"The client reads the view first; the endpointslice, endpoints and configmap rows are what it pays while the "+
			"aggregated API is unavailable. "+hubNote)
	return nil
}
