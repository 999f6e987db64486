package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/leaderhub/leaderhub/test/framework"
)

// startup is what a replica started on a populated cluster took to be
// ready, and what it holds then.
type startup struct {
	ready time.Duration
	// checks are the /readyz checks, each with when it first passed,
	// slowest first.
	checks []readyzCheck
	heap   float64
	rss    int64
}

type readyzCheck struct {
	name   string
	passed time.Duration
}

// startupAtScale starts one more leaderhub-apiserver, as the chart runs one
// (a standby: the first replica holds the controller lease), and times it
// from its start to /readyz 200, polling /readyz?verbose every 50 ms to
// tell which check passed last. Then it reads its heap and RSS and stops it.
func (e *env) startupAtScale(ctx context.Context) (startup, error) {
	var s startup
	lh, err := e.cp.StartLeaderHub(ctx, framework.LeaderHubOptions{Name: "leaderhub-startup", NoWait: true,
		Args: []string{"--v=1"}})
	if err != nil {
		return s, err
	}
	started := time.Now()
	defer func() { _ = lh.Process.Stop(10 * time.Second) }()
	client, err := lh.HTTPClient()
	if err != nil {
		return s, err
	}
	passed := map[string]time.Duration{}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Minute, true, func(ctx context.Context) (bool, error) {
		if lh.Process.Exited() {
			return false, fmt.Errorf("%s exited; its log: %s", lh.Process.Name, lh.Process.LogFile)
		}
		ok, lines := readyzVerbose(ctx, client, lh.URL)
		at := time.Since(started)
		for _, name := range lines {
			if _, seen := passed[name]; !seen {
				passed[name] = at
			}
		}
		if ok {
			s.ready = at
		}
		return ok, nil
	})
	if err != nil {
		return s, fmt.Errorf("the new replica's /readyz: %w", err)
	}
	for name, at := range passed {
		s.checks = append(s.checks, readyzCheck{name, at})
	}
	slices.SortFunc(s.checks, func(a, b readyzCheck) int { return int(b.passed - a.passed) })
	cfg, err := lh.RESTConfigFor(e.cp, "bench", "system:masters")
	if err != nil {
		return s, err
	}
	f, err := goFootprint(ctx, cfg, "")
	if err != nil {
		return s, err
	}
	s.heap, s.rss = f.heap, settledRSS(lh.Process.PID)
	return s, nil
}

// readyzVerbose asks /readyz?verbose and returns whether it answered 200
// and the checks it lists as passed ("[+]name ok").
func readyzVerbose(ctx context.Context, client *http.Client, url string) (bool, []string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/readyz?verbose", nil)
	if err != nil {
		return false, nil
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, nil
	}
	defer resp.Body.Close()
	var passed []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "[+]"); ok {
			passed = append(passed, strings.TrimSuffix(name, " ok"))
		}
	}
	return resp.StatusCode == http.StatusOK, passed
}

// rows are the start-up's report rows.
func (s startup) rows(nodes, pools int) [][]string {
	var slowest []string
	for _, c := range s.checks[:min(3, len(s.checks))] {
		slowest = append(slowest, fmt.Sprintf("%s %s", c.name, c.passed.Round(10*time.Millisecond)))
	}
	return [][]string{
		{fmt.Sprintf("a replica started with %d Nodes and %d pools: process start → /readyz 200", nodes, pools),
			fmt.Sprintf("**%s** (checks passed last: %s)", s.ready.Round(10*time.Millisecond), strings.Join(slowest, ", "))},
		{"… that replica once ready: Go heap in use (after two forced GCs) / RSS",
			fmt.Sprintf("%.1f MiB / %.1f MiB", s.heap/(1<<20), float64(s.rss)/(1<<20))},
	}
}
