package framework

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// YurtHubOptions configure a YurtHub the framework runs.
type YurtHubOptions struct {
	// Node and Pool are the Node it runs for and its --nodepool-name.
	Node, Pool string
	// LeaderHubSource is --leader-hub-source; the flag is left out when
	// empty, so the default applies.
	LeaderHubSource string
	// Restart, when set, runs it again with the root directory, disk cache
	// and ports of that one (stopped).
	Restart *YurtHub
	// Args are extra flags.
	Args []string
}

// YurtHub is a running YurtHub (the patched build, _output/bin/yurthub) in
// edge mode, bound to 127.0.0.1.
type YurtHub struct {
	*Process
	Node, Pool string
	RootDir    string
	// ServePort serves /v1/healthz and /metrics; MultiplexerPort is its
	// --multiplexer-port, the port of every leader URL it dials.
	ServePort, ProxyPort, SecurePort, MultiplexerPort int
}

// YurtHubBinary is the patched YurtHub `make yurthub` builds.
func YurtHubBinary() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "_output", "bin", "yurthub")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s: run make yurthub: %w", bin, err)
	}
	return bin, nil
}

// StartYurtHub runs YurtHub in edge mode for opts.Node with the
// certificates it would have after bootstrap, issued by the cluster CA and
// placed in its root directory (a client certificate for system:node:<node>
// in the groups openyurt:yurthub and system:nodes, a serving certificate, the
// CA), and waits until it serves /v1/healthz. The Node, the NodePool CRD and
// YurtHub's RBAC are the caller's (ApplyYurtHubPrerequisites).
func (cp *ControlPlane) StartYurtHub(ctx context.Context, opts YurtHubOptions) (*YurtHub, error) {
	bin, err := YurtHubBinary()
	if err != nil {
		return nil, err
	}
	yh := opts.Restart
	if yh == nil {
		yh = &YurtHub{Node: opts.Node, Pool: opts.Pool, RootDir: filepath.Join(cp.Dir, "yurthub-"+opts.Node)}
		for _, p := range []*int{&yh.ServePort, &yh.ProxyPort, &yh.SecurePort, &yh.MultiplexerPort} {
			if *p, err = FreePort(); err != nil {
				return nil, err
			}
		}
		if err := cp.writeYurtHubPKI(yh); err != nil {
			return nil, err
		}
	}
	caHash, err := cp.caSPKIHash()
	if err != nil {
		return nil, err
	}
	bootstrap := filepath.Join(yh.RootDir, "bootstrap.kubeconfig")
	if err := cp.WriteKubeconfig(bootstrap, "system:bootstrap:leaderhub-test", []string{"system:bootstrappers"}); err != nil {
		return nil, err
	}
	args := []string{
		"--working-mode=edge", "--node-name=" + yh.Node, "--nodepool-name=" + yh.Pool,
		"--server-addr=" + cp.ServerURL, "--bootstrap-file=" + bootstrap,
		"--discovery-token-ca-cert-hash=sha256:" + caHash,
		"--root-dir=" + yh.RootDir, "--disk-cache-path=" + filepath.Join(yh.RootDir, "cache"),
		"--enable-dummy-if=false", "--node-ip=127.0.0.1",
		"--bind-address=127.0.0.1", "--bind-proxy-address=127.0.0.1",
		"--serve-port=" + strconv.Itoa(yh.ServePort), "--proxy-port=" + strconv.Itoa(yh.ProxyPort),
		"--proxy-secure-port=" + strconv.Itoa(yh.SecurePort), "--multiplexer-port=" + strconv.Itoa(yh.MultiplexerPort),
		"--heartbeat-healthy-threshold=1", "--v=2",
	}
	if opts.LeaderHubSource != "" {
		args = append(args, "--leader-hub-source="+opts.LeaderHubSource)
	}
	yh.Process, err = startProcess(cp.Dir, "yurthub-"+yh.Node, bin, append(args, opts.Args...), false)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/v1/healthz", yh.ServePort), http.DefaultClient, yh.Process); err != nil {
		_ = yh.Stop(5 * time.Second)
		return nil, fmt.Errorf("yurthub %s did not serve /v1/healthz: %w\n%s", yh.Node, err, yh.Tail(8192))
	}
	return yh, nil
}

// writeYurtHubPKI places the certificates YurtHub would have after its
// bootstrap (the local control plane signs no CSRs): certificate and key in
// one PEM file each, and the CA.
func (cp *ControlPlane) writeYurtHubPKI(yh *YurtHub) error {
	pki := filepath.Join(yh.RootDir, "pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return err
	}
	user := "system:node:" + yh.Node
	for file, spec := range map[string]CertSpec{
		"yurthub-current.pem": {CommonName: user, Organization: []string{"openyurt:yurthub", "system:nodes"}, Client: true},
		"yurthub-server-current.pem": {CommonName: user, Organization: []string{"system:nodes"}, Server: true,
			IPs:      []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(169, 254, 2, 1), net.IPv4(10, 96, 0, 1)},
			DNSNames: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}},
	} {
		certPEM, keyPEM, err := cp.CA.IssuePEM(spec)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(pki, file), append(certPEM, keyPEM...), 0o600); err != nil {
			return err
		}
	}
	caPEM, err := os.ReadFile(cp.CA.CertFile)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(pki, "ca.crt"), caPEM, 0o644)
}

// caSPKIHash is the hex SHA-256 of the cluster CA's public key, what
// --discovery-token-ca-cert-hash pins.
func (cp *ControlPlane) caSPKIHash() (string, error) {
	if cp.CA.Cert == nil {
		return "", errors.New("the cluster CA's certificate is not loaded")
	}
	sum := sha256.Sum256(cp.CA.Cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:]), nil
}

// WaitLog waits until a line of the process's log after offset matches re,
// and returns the line and the offset after it.
func (p *Process) WaitLog(ctx context.Context, offset int64, re *regexp.Regexp, timeout time.Duration) (string, int64, error) {
	var line string
	var next int64
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		data, err := os.ReadFile(p.LogFile)
		if err != nil || int64(len(data)) < offset {
			return false, err
		}
		loc := re.FindIndex(data[offset:])
		if loc == nil {
			return false, nil
		}
		start, end := offset+int64(loc[0]), offset+int64(loc[1])
		for start > 0 && data[start-1] != '\n' {
			start--
		}
		for end < int64(len(data)) && data[end] != '\n' {
			end++
		}
		line, next = string(data[start:end]), end
		return true, nil
	})
	if err != nil {
		return "", offset, fmt.Errorf("%s logged nothing matching %q within %v: %w\n%s", p.Name, re, timeout, err, p.Tail(4096))
	}
	return line, next, nil
}

// LogSize is the length of the process's log so far, an offset for WaitLog.
func (p *Process) LogSize() int64 {
	st, err := os.Stat(p.LogFile)
	if err != nil {
		return 0
	}
	return st.Size()
}

// ApplyYurtHubPrerequisites grants the group system:nodes upstream's
// yurt-hub ClusterRole (OpenYurt v1.7.0,
// charts/yurthub/templates/yurthub-cfg.yaml) and creates the yurt-hub-cfg
// ConfigMap YurtHub's configuration manager reads.
func ApplyYurtHubPrerequisites(ctx context.Context, kube kubernetes.Interface) error {
	rule := func(group, resource string, verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, Verbs: verbs}
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "yurt-hub"}, Rules: []rbacv1.PolicyRule{
		rule("", "events", "get"),
		rule("apps.openyurt.io", "nodepools", "list", "watch"),
		rule("", "configmaps", "get", "list", "watch"),
		{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"yurt-coordinator-yurthub-certs"}, Verbs: []string{"list", "watch"}},
		rule("coordination.k8s.io", "leases", "get", "update"),
		rule("discovery.k8s.io", "endpointslices", "list", "watch"),
		rule("", "endpoints", "list", "watch"),
	}}
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return err
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "yurt-hub"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "yurt-hub"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:nodes"}}}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "yurt-hub-cfg", Namespace: metav1.NamespaceSystem,
		Labels: map[string]string{"openyurt.io/configmap-name": "yurt-hub-cfg"}},
		Data: map[string]string{"cache_agents": "", "servicetopology": "", "discardcloudservice": "", "masterservice": ""}}
	_, err := kube.CoreV1().ConfigMaps(metav1.NamespaceSystem).Create(ctx, cm, metav1.CreateOptions{})
	return err
}
