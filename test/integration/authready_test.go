package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/leaderhub/leaderhub/test/framework"
)

// poll is one request of a poller: when it was sent, when it was answered,
// and the status (0 when it failed without one).
type poll struct {
	sent, answered time.Time
	code           int
	// body is the start of the answer, to tell who answered.
	body string
}

// aggregatorUnavailable reports whether kube-aggregator itself refused the
// request because it holds the APIService unavailable ("service
// unavailable", its proxy's own answer): its availability controller
// rechecks a failed APIService with backoff, so it can lag leaderhub's
// readiness by a second, and that is not leaderhub's answer.
func (p poll) aggregatorUnavailable() bool {
	return p.code == http.StatusServiceUnavailable && strings.TrimSpace(p.body) == "service unavailable"
}

// poller sends GET url every interval until stopped and keeps every answer.
type poller struct {
	mu       sync.Mutex
	polls    []poll
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// startPoller starts a poller; it is stopped when the test ends, however
// it ends, if finish has not stopped it before.
func startPoller(t *testing.T, client *http.Client, url string, interval time.Duration) *poller {
	p := &poller{stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { p.finish() })
	go func() {
		defer close(p.done)
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			sent := time.Now()
			code, body := 0, ""
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if resp, err := client.Do(req); err == nil {
				code = resp.StatusCode
				start, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
				body = string(start)
				resp.Body.Close()
			}
			cancel()
			p.mu.Lock()
			p.polls = append(p.polls, poll{sent: sent, answered: time.Now(), code: code, body: body})
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-ticker.C:
			}
		}
	}()
	return p
}

func (p *poller) finish() []poll {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.polls
}

// firstOK is the first poll answered 200.
func firstOK(polls []poll) (poll, bool) {
	for _, p := range polls {
		if p.code == http.StatusOK {
			return p, true
		}
	}
	return poll{}, false
}

// TestReadyOnlyOnceRequestsAuthenticate restarts a leaderhub registered as
// the APIService while the admin lists LeaderHubs through kube-apiserver
// every 20 ms from the moment it starts: no request is ever answered 403
// (an unauthenticated verdict clients do not retry), and once /readyz
// answers 200 every request through the aggregator succeeds.
func TestReadyOnlyOnceRequestsAuthenticate(t *testing.T) {
	ctx := testContext(t, 4*time.Minute)
	port := 0 // the first start picks a free port; the restart takes it again
	start := func(wait bool) *framework.LeaderHub {
		lh, err := controlPlane.StartLeaderHub(ctx, framework.LeaderHubOptions{Name: "leaderhub-authready", Port: port, NoWait: !wait,
			Args: []string{"--controllers=-materialize"}})
		if err != nil {
			t.Fatal(err)
		}
		framework.StopOnCleanup(t, lh.Process, 10*time.Second)
		port = lh.Port
		return lh
	}
	lh := start(true)
	if err := controlPlane.RegisterAPIService(ctx, lh); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Give the APIService back to the shared leaderhub.
		if err := controlPlane.RegisterAPIService(context.Background(), sharedView(t)); err != nil {
			t.Errorf("registering the shared leaderhub again: %v", err)
		}
	})
	if err := lh.Process.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}

	admin, err := rest.HTTPClientFor(adminConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	direct, err := lh.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	through := startPoller(t, admin, adminConfig(t).Host+"/apis/leaderhub.openyurt.io/v1alpha1/namespaces/kube-system/leaderhubs", 20*time.Millisecond)
	readyz := startPoller(t, direct, lh.URL+"/readyz", 20*time.Millisecond)
	startedAt := time.Now()
	restarted := start(false)
	// Until requests through the aggregator have succeeded for a while.
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		through.mu.Lock()
		ok, okSince := 0, time.Time{}
		for _, p := range through.polls {
			if p.code == http.StatusOK {
				if ok == 0 {
					okSince = p.answered
				}
				ok++
			}
		}
		through.mu.Unlock()
		if ok > 0 && time.Since(okSince) > 3*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	throughPolls, readyzPolls := through.finish(), readyz.finish()

	codes := map[int]int{}
	for _, p := range throughPolls {
		if p.sent.After(startedAt) {
			codes[p.code]++
		}
	}
	firstThrough, ok := firstOK(throughPolls)
	if !ok {
		t.Fatalf("no request through the aggregator succeeded after the restart: %v\n%s", codes, restarted.Process.Tail(4096))
	}
	firstReady, ok := firstOK(readyzPolls)
	if !ok {
		t.Fatalf("/readyz never answered 200 after the restart\n%s", restarted.Process.Tail(4096))
	}
	t.Logf("after the restart, through the aggregator: %v; first 200 at +%v; /readyz first 200 at +%v",
		codes, firstThrough.answered.Sub(startedAt).Round(time.Millisecond), firstReady.answered.Sub(startedAt).Round(time.Millisecond))
	if codes[http.StatusForbidden] > 0 || codes[http.StatusUnauthorized] > 0 {
		t.Errorf("%d requests through the aggregator were answered 403 and %d 401 while leaderhub started",
			codes[http.StatusForbidden], codes[http.StatusUnauthorized])
	}
	var failedAfterReady []string
	aggregatorLag := 0
	for _, p := range throughPolls {
		switch {
		case !p.sent.After(firstReady.answered) || p.code == http.StatusOK:
		case p.aggregatorUnavailable():
			aggregatorLag++
		default:
			failedAfterReady = append(failedAfterReady, fmt.Sprintf("%d at +%v: %.120s", p.code, p.sent.Sub(startedAt).Round(time.Millisecond), p.body))
		}
	}
	t.Logf("after /readyz answered 200, %d requests were refused by kube-aggregator itself (\"service unavailable\": "+
		"its availability check of the APIService had not passed again yet)", aggregatorLag)
	if len(failedAfterReady) > 0 {
		t.Errorf("/readyz answered 200 at +%v, but leaderhub failed requests through the aggregator sent after it: %v",
			firstReady.answered.Sub(startedAt).Round(time.Millisecond), failedAfterReady)
	}
}
