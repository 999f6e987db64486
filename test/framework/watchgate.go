package framework

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WatchGate is a proxy between one client (a leaderhub) and kube-apiserver
// that can break the client's NodePool watch and hold its resumption, then
// either answer it as kube-apiserver does when the version is too old (410
// Expired), so that the client's reflector relists (what happens after a
// watch broke for longer than kube-apiserver's watch cache window, on
// demand), or pass it on to kube-apiserver. Everything
// else passes through. It listens on 127.0.0.1 over plain HTTP and speaks
// to kube-apiserver as the user it was made for.
type WatchGate struct {
	URL      string
	server   *http.Server
	listener net.Listener

	mu sync.Mutex
	// open cancels the NodePool watches in flight.
	open map[*http.Request]context.CancelFunc
	// held is the current hold, nil while the gate is open.
	held *hold
	// holding counts the resumptions held now; expired, those answered 410.
	holding, expired int
}

// hold holds NodePool watch resumptions until released is closed; then
// they are answered 410 Expired, or passed to kube-apiserver if pass.
type hold struct {
	released chan struct{}
	pass     bool
}

// NewServiceAccountGate starts a gate to kube-apiserver for the
// ServiceAccount a leaderhub runs as (LeaderHubOptions.ServiceAccount).
func (cp *ControlPlane) NewServiceAccountGate(serviceAccount string) (*WatchGate, error) {
	return cp.NewWatchGate(ServiceAccountUser(serviceAccount), serviceAccountGroups...)
}

// NewWatchGate starts a gate to kube-apiserver for user.
func (cp *ControlPlane) NewWatchGate(user string, groups ...string) (*WatchGate, error) {
	cfg, err := cp.RESTConfigFor(user, groups...)
	if err != nil {
		return nil, err
	}
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, err
	}
	upstream, err := url.Parse(cp.ServerURL)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &WatchGate{URL: "http://" + l.Addr().String(), listener: l, open: map[*http.Request]context.CancelFunc{}}
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	proxy.Transport = transport
	proxy.FlushInterval = -1 // watches stream
	proxy.ErrorLog = nil
	g.server = &http.Server{Handler: g.handler(proxy)}
	go func() { _ = g.server.Serve(l) }()
	return g, nil
}

// isNodePoolResume is a watch of NodePools that resumes from a version.
func isNodePoolResume(req *http.Request) bool {
	q := req.URL.Query()
	rv := q.Get("resourceVersion")
	return strings.HasSuffix(req.URL.Path, "/apis/apps.openyurt.io/v1beta2/nodepools") && q.Get("watch") == "true" &&
		rv != "" && rv != "0" && q.Get("sendInitialEvents") != "true"
}

func (g *WatchGate) handler(proxy http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !strings.HasSuffix(req.URL.Path, "/nodepools") || req.URL.Query().Get("watch") != "true" {
			proxy.ServeHTTP(w, req)
			return
		}
		g.mu.Lock()
		held := g.held
		g.mu.Unlock()
		if held != nil && isNodePoolResume(req) {
			g.mu.Lock()
			g.holding++
			g.mu.Unlock()
			select {
			case <-held.released:
			case <-req.Context().Done():
				g.mu.Lock()
				g.holding--
				g.mu.Unlock()
				return
			}
			g.mu.Lock()
			g.holding--
			if held.pass {
				g.mu.Unlock()
				g.forward(w, req, proxy)
				return
			}
			g.expired++
			g.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusGone)
			fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: %s (held by the test's watch gate)","reason":%q,"code":410}`,
				req.URL.Query().Get("resourceVersion"), metav1.StatusReasonExpired)
			return
		}
		g.forward(w, req, proxy)
	})
}

// forward passes a NodePool watch to kube-apiserver, cancellable by Hold.
func (g *WatchGate) forward(w http.ResponseWriter, req *http.Request, proxy http.Handler) {
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	g.mu.Lock()
	g.open[req] = cancel
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.open, req)
		g.mu.Unlock()
	}()
	proxy.ServeHTTP(w, req.WithContext(ctx))
}

// Hold breaks the NodePool watches in flight and holds their resumptions
// until Expire.
func (g *WatchGate) Hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held == nil {
		g.held = &hold{released: make(chan struct{})}
	}
	for _, cancel := range g.open {
		cancel()
	}
}

// WaitHeld waits until the client has tried to resume its watch and the
// gate holds the attempt.
func (g *WatchGate) WaitHeld(ctx context.Context) error {
	return wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.holding > 0, nil
	})
}

// Expire answers the held resumptions 410 Expired, so the client relists,
// and opens the gate again.
func (g *WatchGate) Expire() { g.reopen(false) }

// Release passes the held resumptions on to kube-apiserver, which answers
// them as it would have (a resumption from a compacted version gets its
// own 410, in the watch stream), and opens the gate again.
func (g *WatchGate) Release() { g.reopen(true) }

func (g *WatchGate) reopen(pass bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held != nil {
		g.held.pass = pass
		close(g.held.released)
		g.held = nil
	}
}

// Expired is how many resumptions the gate has answered 410.
func (g *WatchGate) Expired() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.expired
}

// WriteKubeconfig writes a kubeconfig that reaches kube-apiserver through
// the gate.
func (g *WatchGate) WriteKubeconfig(path string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["gate"] = &clientcmdapi.Cluster{Server: g.URL}
	cfg.AuthInfos["gate"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["gate"] = &clientcmdapi.Context{Cluster: "gate", AuthInfo: "gate"}
	cfg.CurrentContext = "gate"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*cfg, path)
}

// Close stops the gate.
func (g *WatchGate) Close() error {
	g.Expire()
	return g.server.Close()
}
