package framework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/keyutil"
)

// BuildTarget is the make target that builds the control-plane binaries.
const BuildTarget = "make controlplane"

// Options configure a control plane.
type Options struct {
	// Dir holds certificates, data, logs, pid files and the kubeconfig.
	Dir string
	// BinDir holds etcd and kube-apiserver; defaults to <repo>/_output/bin.
	BinDir string
	// Detached processes outlive the caller (the local demo); attached ones
	// die with it (tests).
	Detached bool
	// APIServerPort and EtcdPort, when zero, are picked free.
	APIServerPort, EtcdPort int
	// Profiling turns on kube-apiserver's /debug/pprof (benchmarks).
	Profiling bool
	// AggregatorRouting makes kube-apiserver proxy to an aggregated API's
	// Service endpoints (EndpointSlices) instead of its cluster IP, as
	// --enable-aggregator-routing=true does in a cluster.
	AggregatorRouting bool
	// APIServerArgs are extra kube-apiserver flags, after the framework's.
	APIServerArgs []string
}

// ControlPlane is a running etcd and kube-apiserver on loopback.
type ControlPlane struct {
	Dir        string
	BinDir     string
	EtcdURL    string
	ServerURL  string
	Kubeconfig string
	// CA signs the kube-apiserver serving certificate and every client
	// certificate kube-apiserver accepts.
	CA *CertAuthority
	// FrontProxyCA signs the client certificate kube-apiserver uses when it
	// proxies to aggregated servers; they trust it via requestheader flags.
	FrontProxyCA *CertAuthority

	Etcd      *Process
	APIServer *Process
	opts      Options
	// Others are processes started against this control plane, such as
	// leaderhub-apiserver; they are stopped first.
	Others []*Process
}

// Layout of a control-plane directory, shared with `make local-down`.
const (
	PKIDir         = "pki"
	KubeconfigName = "kubeconfig"
)

// Start brings up etcd and kube-apiserver and waits until kube-apiserver is
// ready. On error every process it started is stopped again.
func Start(ctx context.Context, opts Options) (cp *ControlPlane, err error) {
	if opts.BinDir == "" {
		root, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		opts.BinDir = filepath.Join(root, "_output", "bin")
	}
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, statErr := os.Stat(filepath.Join(opts.BinDir, b)); statErr != nil {
			return nil, fmt.Errorf("control-plane binary %s is missing in %s: run `%s` first (make test does): %w",
				b, opts.BinDir, BuildTarget, statErr)
		}
	}
	pki := filepath.Join(opts.Dir, PKIDir)
	if err := os.MkdirAll(pki, 0o755); err != nil {
		return nil, err
	}
	if opts.EtcdPort == 0 {
		if opts.EtcdPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if opts.APIServerPort == 0 {
		if opts.APIServerPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	peerPort, err := FreePort()
	if err != nil {
		return nil, err
	}

	cp = &ControlPlane{Dir: opts.Dir, BinDir: opts.BinDir, opts: opts,
		EtcdURL:    "http://127.0.0.1:" + strconv.Itoa(opts.EtcdPort),
		ServerURL:  "https://127.0.0.1:" + strconv.Itoa(opts.APIServerPort),
		Kubeconfig: filepath.Join(opts.Dir, KubeconfigName)}
	defer func() {
		if err != nil {
			_ = cp.Stop()
		}
	}()
	if err = cp.writePKI(pki); err != nil {
		return nil, err
	}

	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	cp.Etcd, err = startProcess(opts.Dir, "etcd", filepath.Join(opts.BinDir, "etcd"), []string{
		"--name=leaderhub-test",
		"--data-dir=" + filepath.Join(opts.Dir, "etcd-data"),
		"--listen-client-urls=" + cp.EtcdURL,
		"--advertise-client-urls=" + cp.EtcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=leaderhub-test=" + peerURL,
		"--listen-metrics-urls=",
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	}, opts.Detached)
	if err != nil {
		return nil, err
	}
	if err = waitHTTP(ctx, cp.EtcdURL+"/health", nil, cp.Etcd); err != nil {
		return nil, fmt.Errorf("etcd did not become healthy: %w\n%s", err, cp.Etcd.Tail(4096))
	}

	if err = cp.startAPIServer(opts); err != nil {
		return nil, err
	}
	return cp, nil
}

func (cp *ControlPlane) startAPIServer(opts Options) (err error) {
	pki := filepath.Join(cp.Dir, PKIDir)
	f := func(name string) string { return filepath.Join(pki, name) }
	cp.APIServer, err = startProcess(cp.Dir, "kube-apiserver", filepath.Join(cp.BinDir, "kube-apiserver"), append([]string{
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(opts.APIServerPort),
		"--etcd-servers=" + cp.EtcdURL,
		"--tls-cert-file=" + f("apiserver.crt"),
		"--tls-private-key-file=" + f("apiserver.key"),
		"--client-ca-file=" + cp.CA.CertFile,
		"--service-account-key-file=" + f("sa.key"), // kube-apiserver takes the public half of a private key file
		"--service-account-signing-key-file=" + f("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=Node,RBAC",
		"--endpoint-reconciler-type=none",
		"--requestheader-client-ca-file=" + cp.FrontProxyCA.CertFile,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-uid-headers=X-Remote-Uid",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + f("front-proxy-client.crt"),
		"--proxy-client-key-file=" + f("front-proxy-client.key"),
		"--profiling=" + strconv.FormatBool(opts.Profiling),
		"--enable-aggregator-routing=" + strconv.FormatBool(opts.AggregatorRouting),
		"--v=1",
	}, opts.APIServerArgs...), opts.Detached)
	if err != nil {
		return err
	}
	cfg, err := cp.RESTConfig()
	if err != nil {
		return err
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := waitHTTP(ctx, cp.ServerURL+"/readyz", client, cp.APIServer); err != nil {
		return fmt.Errorf("kube-apiserver did not become ready: %w\n%s", err, cp.APIServer.Tail(8192))
	}
	return nil
}

// StopAPIServer stops kube-apiserver by PID, for an outage: SIGTERM, then
// SIGKILL after 10 s. Needing SIGKILL is not an error here: on SIGTERM
// kube-apiserver waits up to its fixed 60 s shutdown timeout for requests
// it proxies to aggregated servers (a client's watch of LeaderHubs, say),
// which only end when their clients end them.
func (cp *ControlPlane) StopAPIServer() error {
	if err := cp.APIServer.Stop(10 * time.Second); err != nil && !errors.Is(err, ErrKilled) {
		return err
	}
	return nil
}

// StartAPIServer starts kube-apiserver again on the same port with the same
// flags, after StopAPIServer, and waits until it is ready.
func (cp *ControlPlane) StartAPIServer() error {
	return cp.startAPIServer(cp.opts)
}

// writePKI creates the CAs, serving and client certificates, the
// service-account key and the admin kubeconfig.
func (cp *ControlPlane) writePKI(pki string) (err error) {
	if cp.CA, err = NewCertAuthority(pki, "ca", "leaderhub-test-ca"); err != nil {
		return err
	}
	if cp.FrontProxyCA, err = NewCertAuthority(pki, "front-proxy-ca", "leaderhub-test-front-proxy-ca"); err != nil {
		return err
	}
	if _, err = cp.CA.Issue(pki, "apiserver", CertSpec{CommonName: "kube-apiserver", Server: true,
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPs:      []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}}); err != nil {
		return err
	}
	if _, err = cp.FrontProxyCA.Issue(pki, "front-proxy-client", CertSpec{CommonName: "front-proxy-client", Client: true}); err != nil {
		return err
	}
	saKey, err := keyutil.MakeEllipticPrivateKeyPEM()
	if err != nil {
		return err
	}
	if err = os.WriteFile(filepath.Join(pki, "sa.key"), saKey, 0o600); err != nil {
		return err
	}
	return cp.WriteKubeconfig(cp.Kubeconfig, "kubernetes-admin", []string{"system:masters"})
}

// WriteKubeconfig writes a kubeconfig for a user with a client certificate
// issued by the cluster CA.
func (cp *ControlPlane) WriteKubeconfig(path, user string, groups []string) error {
	cfg, err := cp.ClientConfigKubeconfig(user, groups)
	if err != nil {
		return err
	}
	return clientcmd.WriteToFile(*cfg, path)
}

// ClientConfigKubeconfig returns a kubeconfig for a user with a client
// certificate issued by the cluster CA.
func (cp *ControlPlane) ClientConfigKubeconfig(user string, groups []string) (*clientcmdapi.Config, error) {
	certPEM, keyPEM, err := cp.CA.IssuePEM(CertSpec{CommonName: user, Organization: groups, Client: true})
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(cp.CA.CertFile)
	if err != nil {
		return nil, err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: cp.ServerURL, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: user}
	cfg.CurrentContext = "local"
	return cfg, nil
}

// RESTConfig is the admin client configuration.
func (cp *ControlPlane) RESTConfig() (*rest.Config, error) {
	return clientcmd.BuildConfigFromFlags("", cp.Kubeconfig)
}

// RESTConfigFromKubeconfig is the client configuration of a kubeconfig file,
// such as the one a detached control plane left in its directory.
func RESTConfigFromKubeconfig(path string) (*rest.Config, error) {
	return clientcmd.BuildConfigFromFlags("", path)
}

// RESTConfigFor is a client configuration for any user and groups, with a
// client certificate issued by the cluster CA.
func (cp *ControlPlane) RESTConfigFor(user string, groups ...string) (*rest.Config, error) {
	cfg, err := cp.ClientConfigKubeconfig(user, groups)
	if err != nil {
		return nil, err
	}
	return clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
}

// KubeClient is an admin clientset for core APIs.
func (cp *ControlPlane) KubeClient() (kubernetes.Interface, error) {
	cfg, err := cp.RESTConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// Stop stops kube-apiserver, then etcd (kube-apiserver hangs on shutdown when
// etcd is gone first). It is safe to call more than once.
func (cp *ControlPlane) Stop() error {
	var errs []error
	for _, p := range cp.Others {
		errs = append(errs, p.Stop(15*time.Second))
	}
	if cp.APIServer != nil {
		errs = append(errs, cp.APIServer.Stop(30*time.Second))
	}
	if cp.Etcd != nil {
		errs = append(errs, cp.Etcd.Stop(15*time.Second))
	}
	return errors.Join(errs...)
}

// Logs returns the tail of every process log, for failing tests.
func (cp *ControlPlane) Logs(n int64) string {
	var b strings.Builder
	for _, p := range append([]*Process{cp.Etcd, cp.APIServer}, cp.Others...) {
		if p != nil {
			fmt.Fprintf(&b, "---- %s (pid %d) %s\n%s\n", p.Name, p.PID, p.LogFile, p.Tail(n))
		}
	}
	return b.String()
}

// CompactEtcd compacts etcd's history up to its current revision, as
// kube-apiserver does every five minutes, and returns that revision: a watch
// that resumes from before it gets 410 Expired from etcd.
func (cp *ControlPlane) CompactEtcd(ctx context.Context) (int64, error) {
	var rangeResp struct {
		Header struct {
			Revision string `json:"revision"`
		} `json:"header"`
	}
	if err := etcdPost(ctx, cp.EtcdURL+"/v3/kv/range", `{"key":"AA=="}`, &rangeResp); err != nil {
		return 0, err
	}
	rev, err := strconv.ParseInt(rangeResp.Header.Revision, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("etcd revision %q: %w", rangeResp.Header.Revision, err)
	}
	if err := etcdPost(ctx, cp.EtcdURL+"/v3/kv/compaction", fmt.Sprintf(`{"revision":"%d","physical":true}`, rev), nil); err != nil {
		return 0, err
	}
	return rev, nil
}

// etcdPost calls etcd's JSON gateway.
func etcdPost(ctx context.Context, url, body string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("etcd %s: %s: %s", url, resp.Status, raw)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers 200, the process exits, or ctx ends.
func waitHTTP(ctx context.Context, url string, client *http.Client, p *Process) error {
	if client == nil {
		client = http.DefaultClient
	}
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if p != nil && p.Exited() {
			return false, fmt.Errorf("%s (pid %d) exited", p.Name, p.PID)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			last = err
			return false, nil
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			last = fmt.Errorf("%s: %s", url, resp.Status)
			return false, nil
		}
		return true, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("%w (last: %w)", err, last)
	}
	return err
}

// RepoRoot finds the leaderhub checkout containing the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(string(data), "module github.com/leaderhub/leaderhub\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the leaderhub repository (no go.mod for github.com/leaderhub/leaderhub above the working directory)")
		}
		dir = parent
	}
}

// StartControllerManager runs kube-controller-manager with only the given
// controllers (for example garbagecollector), as admin, until Stop.
func (cp *ControlPlane) StartControllerManager(ctx context.Context, controllers ...string) (*Process, error) {
	p, err := startProcess(cp.Dir, "kube-controller-manager", filepath.Join(cp.BinDir, "kube-controller-manager"), []string{
		"--kubeconfig=" + cp.Kubeconfig,
		"--authentication-kubeconfig=" + cp.Kubeconfig,
		"--authorization-kubeconfig=" + cp.Kubeconfig,
		"--controllers=" + strings.Join(controllers, ","),
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--use-service-account-credentials=false",
		"--v=2",
	}, false)
	if err != nil {
		return nil, err
	}
	cp.Others = append(cp.Others, p)
	return p, nil
}
