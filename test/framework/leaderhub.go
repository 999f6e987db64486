package framework

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
)

// LeaderHub identity and names used when running leaderhub-apiserver locally.
const (
	LeaderHubNamespace   = "kube-system"
	LeaderHubServiceName = "leaderhub"
	APIServiceName       = "v1alpha1.leaderhub.openyurt.io"
	// ServingDNSName is the name kube-apiserver verifies leaderhub's serving
	// certificate for; clients of a LeaderHub verify it for the same name.
	ServingDNSName = LeaderHubServiceName + "." + LeaderHubNamespace + ".svc"
)

var apiServiceResource = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// LeaderHubOptions configure one leaderhub-apiserver process.
type LeaderHubOptions struct {
	// Name of the process (logs, pid file); defaults to leaderhub-apiserver.
	Name string
	// Binary defaults to a fresh build of ./cmd/leaderhub-apiserver.
	Binary string
	// Port defaults to a free one.
	Port int
	// Args are extra flags, after the framework's own.
	Args []string
	// BaseArgs come before the framework's own flags (bind address, port,
	// certificates, kubeconfig, namespace), which override them: the
	// container args a Helm release runs with, say.
	BaseArgs []string
	// Serving, when set, is the serving certificate to use instead of one
	// issued by the framework's leaderhub CA; ServingCAFile holds the CA
	// that signed it.
	Serving       *CertKeyPair
	ServingCAFile string
	// SkipChartRBAC leaves RBAC to the caller (a Helm release installed it)
	// instead of applying the chart's, rendered for this leaderhub's flags.
	SkipChartRBAC bool
	Detached      bool
	// ServiceAccount is the kube-system ServiceAccount leaderhub runs as when
	// User is empty, and the fullname the chart's RBAC and admission
	// policies are rendered for: DefaultServiceAccount for the default Name,
	// Name otherwise, so leaderhubs of different configurations sharing a
	// control plane each hold exactly what the chart grants theirs.
	ServiceAccount string
	// User and Groups are the identity leaderhub runs as, with whatever RBAC
	// the caller grants them, instead of ServiceAccount.
	User   string
	Groups []string
	// NoWait returns as soon as the process started, without waiting for /readyz.
	NoWait bool
	// Kubeconfig is the kubeconfig leaderhub reaches kube-apiserver with
	// (a WatchGate's, say); by default one for User and Groups.
	Kubeconfig string
}

// LeaderHub is a running leaderhub-apiserver.
type LeaderHub struct {
	Process *Process
	Port    int
	URL     string
	// CA signed the serving certificate; it is the APIService's caBundle.
	// With LeaderHubOptions.Serving only its CertFile is known.
	CA *CertAuthority
	// Serving is the serving certificate and key leaderhub reads (and reloads).
	Serving CertKeyPair
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// LeaderHubBinary builds ./cmd/leaderhub-apiserver into _output/bin once per
// process with `make build` (static and version-stamped, as released), so
// tests always run the code they were built with.
func LeaderHubBinary() (string, error) {
	buildOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(root, "_output", "bin", "leaderhub-apiserver")
		cmd := exec.Command("make", "--no-print-directory", "build")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building leaderhub-apiserver: %w\n%s", err, out)
		}
	})
	return buildPath, buildErr
}

// leaderHubCA returns the CA that signs leaderhub serving certificates,
// creating it on first use.
func (cp *ControlPlane) leaderHubCA() (*CertAuthority, error) {
	pki := filepath.Join(cp.Dir, PKIDir)
	certFile, keyFile := filepath.Join(pki, "leaderhub-ca.crt"), filepath.Join(pki, "leaderhub-ca.key")
	if _, err := os.Stat(certFile); err == nil {
		return LoadCertAuthority(certFile, keyFile)
	}
	return NewCertAuthority(pki, "leaderhub-ca", "leaderhub-serving-ca")
}

// StartLeaderHub applies the chart's RBAC for its flags, then runs
// leaderhub-apiserver on 127.0.0.1 as its ServiceAccount (a client
// certificate issued by the cluster CA), with a serving certificate for
// leaderhub.kube-system.svc, and waits until its /readyz is ok.
func (cp *ControlPlane) StartLeaderHub(ctx context.Context, opts LeaderHubOptions) (*LeaderHub, error) {
	if opts.ServiceAccount == "" {
		opts.ServiceAccount = opts.Name
		if opts.Name == "" {
			opts.ServiceAccount = DefaultServiceAccount
		}
	}
	if opts.Name == "" {
		opts.Name = "leaderhub-apiserver"
	}
	if opts.Binary == "" {
		bin, err := LeaderHubBinary()
		if err != nil {
			return nil, err
		}
		opts.Binary = bin
	}
	if opts.Port == 0 {
		return cp.startLeaderHubOnFreePort(ctx, opts)
	}
	if opts.User == "" && !opts.SkipChartRBAC {
		if err := cp.ApplyChartRBAC(ctx, opts.ServiceAccount, slices.Concat(opts.BaseArgs, []string{"--namespace=" + LeaderHubNamespace}, opts.Args)); err != nil {
			return nil, err
		}
	}
	var ca *CertAuthority
	var serving CertKeyPair
	if opts.Serving != nil {
		ca, serving = &CertAuthority{CertFile: opts.ServingCAFile}, *opts.Serving
	} else {
		var err error
		if ca, err = cp.leaderHubCA(); err != nil {
			return nil, err
		}
		serving, err = ca.Issue(filepath.Join(cp.Dir, PKIDir), opts.Name+"-serving", CertSpec{CommonName: "leaderhub", Server: true,
			DNSNames: []string{"leaderhub.kube-system.svc", "leaderhub.kube-system.svc.cluster.local", "localhost"},
			IPs:      []net.IP{net.ParseIP("127.0.0.1")}})
		if err != nil {
			return nil, err
		}
	}
	if opts.User == "" {
		opts.User, opts.Groups = ServiceAccountUser(opts.ServiceAccount), serviceAccountGroups
	}
	kubeconfig := opts.Kubeconfig
	if kubeconfig == "" {
		kubeconfig = filepath.Join(cp.Dir, opts.Name+".kubeconfig")
		if err := cp.WriteKubeconfig(kubeconfig, opts.User, opts.Groups); err != nil {
			return nil, err
		}
	}
	args := append(slices.Clone(opts.BaseArgs),
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(opts.Port),
		"--tls-cert-file="+serving.CertFile,
		"--tls-private-key-file="+serving.KeyFile,
		"--kubeconfig="+kubeconfig,
		"--namespace="+LeaderHubNamespace,
		"--v=2",
	)
	args = append(args, opts.Args...)
	p, err := startProcess(cp.Dir, opts.Name, opts.Binary, args, opts.Detached)
	if err != nil {
		return nil, err
	}
	cp.Others = append(cp.Others, p)
	lh := &LeaderHub{Process: p, Port: opts.Port, URL: "https://127.0.0.1:" + strconv.Itoa(opts.Port), CA: ca, Serving: serving}
	if opts.NoWait {
		return lh, nil
	}
	if err := lh.WaitReady(ctx); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, err
	}
	if err := lh.waitAuthenticates(ctx, cp); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, err
	}
	return lh, nil
}

// startLeaderHubOnFreePort starts leaderhub on a port free a moment before.
// Another process may take that port in between; then leaderhub exits
// with "address already in use", and another port is tried.
func (cp *ControlPlane) startLeaderHubOnFreePort(ctx context.Context, opts LeaderHubOptions) (*LeaderHub, error) {
	for attempt := 1; ; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		opts.Port = port
		lh, err := cp.StartLeaderHub(ctx, opts)
		if err == nil && opts.NoWait {
			// Bound or not, it is the caller's to wait for.
			return lh, nil
		}
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return lh, err
		}
	}
}

// waitAuthenticates waits until leaderhub recognizes a client certificate
// from the cluster CA. k8s.io/apiserver turns /readyz ready before its
// informer has loaded the client CAs from the extension-apiserver-
// authentication ConfigMap; meanwhile a client is anonymous, and a
// connection made while only the front-proxy CA was loaded stays so. The
// idle connections of a failed attempt are closed for that reason.
func (lh *LeaderHub) waitAuthenticates(ctx context.Context, cp *ControlPlane) error {
	cfg, err := lh.RESTConfigFor(cp, "leaderhub-framework", "system:masters")
	if err != nil {
		return err
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	url := lh.URL + "/apis/leaderhub.openyurt.io/v1alpha1/leaderhubs?limit=1"
	var last string
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			last = resp.Status
			client.CloseIdleConnections()
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("%s never authenticated a cluster client certificate (last: %s): %w", lh.Process.Name, last, err)
	}
	return nil
}

// WaitReady waits until leaderhub's /readyz answers 200.
func (lh *LeaderHub) WaitReady(ctx context.Context) error {
	client, err := lh.HTTPClient()
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, lh.URL+"/readyz", client, lh.Process); err != nil {
		return fmt.Errorf("%s did not become ready: %w\n%s", lh.Process.Name, err, lh.Process.Tail(8192))
	}
	return nil
}

// HTTPClient trusts leaderhub's serving CA and presents no client certificate.
func (lh *LeaderHub) HTTPClient() (*http.Client, error) {
	caPEM, err := os.ReadFile(lh.CA.CertFile)
	if err != nil {
		return nil, err
	}
	return rest.HTTPClientFor(&rest.Config{Host: lh.URL, TLSClientConfig: rest.TLSClientConfig{CAData: caPEM, ServerName: ServingDNSName}})
}

// RESTConfigFor is a configuration that talks to leaderhub directly (not
// through kube-apiserver) as a user with a client certificate from the
// cluster CA, which leaderhub trusts through delegated authentication.
func (lh *LeaderHub) RESTConfigFor(cp *ControlPlane, user string, groups ...string) (*rest.Config, error) {
	cfg, err := cp.RESTConfigFor(user, groups...)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(lh.CA.CertFile)
	if err != nil {
		return nil, err
	}
	cfg.Host = lh.URL
	cfg.TLSClientConfig.CAData, cfg.TLSClientConfig.CAFile = caPEM, ""
	cfg.TLSClientConfig.ServerName = ServingDNSName
	return cfg, nil
}

// RegisterAPIService points kube-apiserver's aggregation layer at lh: an
// ExternalName Service resolving to localhost (Endpoints may not hold
// loopback addresses) and the shipped APIService with lh's CA as caBundle,
// then waits until the APIService is Available.
func (cp *ControlPlane) RegisterAPIService(ctx context.Context, lh *LeaderHub) error {
	kube, err := cp.KubeClient()
	if err != nil {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: LeaderHubServiceName, Namespace: LeaderHubNamespace},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost",
			Ports: []corev1.ServicePort{{Name: "https", Port: int32(lh.Port), Protocol: corev1.ProtocolTCP}}},
	}
	services := kube.CoreV1().Services(LeaderHubNamespace)
	if live, err := services.Get(ctx, svc.Name, metav1.GetOptions{}); err == nil {
		live.Spec = svc.Spec
		_, err = services.Update(ctx, live, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("updating Service %s: %w", svc.Name, err)
		}
	} else if _, err := services.Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating Service %s: %w", svc.Name, err)
	}

	if err := cp.applyAPIService(ctx, lh.CA.CertFile, lh.Port); err != nil {
		return err
	}
	return cp.WaitAPIServiceAvailable(ctx)
}

// applyAPIService creates or updates the shipped APIService, pointed at the
// leaderhub Service's port with the CA in caFile as caBundle.
func (cp *ControlPlane) applyAPIService(ctx context.Context, caFile string, port int) error {
	apiServices, err := ManifestObjects(DeployManifest, "APIService")
	if err != nil {
		return err
	}
	if len(apiServices) != 1 {
		return fmt.Errorf("%s holds %d APIServices, want 1", DeployManifest, len(apiServices))
	}
	apiService := apiServices[0]
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	if err := unstructured.SetNestedField(apiService.Object, base64.StdEncoding.EncodeToString(caPEM), "spec", "caBundle"); err != nil {
		return err
	}
	if err := unstructured.SetNestedField(apiService.Object, int64(port), "spec", "service", "port"); err != nil {
		return err
	}
	dyn, err := cp.dynamicClient()
	if err != nil {
		return err
	}
	apiServiceClient := dyn.Resource(apiServiceResource)
	// The availability controller writes the status meanwhile: retry.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		live, err := apiServiceClient.Get(ctx, APIServiceName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = apiServiceClient.Create(ctx, apiService, metav1.CreateOptions{})
			return err
		case err != nil:
			return err
		}
		apiService.SetResourceVersion(live.GetResourceVersion())
		_, err = apiServiceClient.Update(ctx, apiService, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("registering APIService %s: %w", APIServiceName, err)
	}
	return nil
}

// dynamicClient is an admin dynamic client.
func (cp *ControlPlane) dynamicClient() (dynamic.Interface, error) {
	cfg, err := cp.RESTConfig()
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(cfg)
}

// WaitAPIServiceAvailable waits until the leaderhub APIService reports
// Available=True.
func (cp *ControlPlane) WaitAPIServiceAvailable(ctx context.Context) error {
	dyn, err := cp.dynamicClient()
	if err != nil {
		return err
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		status, msg, err := cp.apiServiceAvailable(ctx, dyn)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = msg
		return status == "True", nil
	})
	if err != nil {
		return fmt.Errorf("APIService %s not available: %w (last: %s)", APIServiceName, err, last)
	}
	return nil
}

// APIServiceCABundle returns the registered APIService's spec.caBundle.
func (cp *ControlPlane) APIServiceCABundle(ctx context.Context) (string, error) {
	dyn, err := cp.dynamicClient()
	if err != nil {
		return "", err
	}
	obj, err := dyn.Resource(apiServiceResource).Get(ctx, APIServiceName, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	caBundle, _, err := unstructured.NestedString(obj.Object, "spec", "caBundle")
	return caBundle, err
}

// APIServiceAvailable returns the Available condition's status and message.
func (cp *ControlPlane) APIServiceAvailable(ctx context.Context) (string, string, error) {
	dyn, err := cp.dynamicClient()
	if err != nil {
		return "", "", err
	}
	return cp.apiServiceAvailable(ctx, dyn)
}

func (cp *ControlPlane) apiServiceAvailable(ctx context.Context, dyn dynamic.Interface) (string, string, error) {
	obj, err := dyn.Resource(apiServiceResource).Get(ctx, APIServiceName, metav1.GetOptions{})
	if err != nil {
		return "", "", err
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]interface{})
		if m["type"] == "Available" {
			return fmt.Sprint(m["status"]), fmt.Sprintf("%v: %v", m["reason"], m["message"]), nil
		}
	}
	return "", "no Available condition yet", nil
}
