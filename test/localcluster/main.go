// Command localcluster brings the local demo up and down for `make local-up`
// and `make local-down`: a real etcd and kube-apiserver (aggregation layer
// on) on loopback, the NodePool CRD and sample NodePools, all under one
// directory (_output/local). Processes outlive the command and are stopped
// later by the PIDs it records; both verbs are idempotent.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	openyurtclient "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned"
	"github.com/leaderhub/leaderhub/test/fixtures"
	"github.com/leaderhub/leaderhub/test/framework"
)

// Processes in the order they are stopped.
var stopOrder = []string{"leaderhub-apiserver", "kube-apiserver", "etcd"}

func main() {
	dir := flag.String("dir", "_output/local", "directory for certificates, data, logs, pid files and the kubeconfig")
	samples := flag.String("samples", "artifacts/samples/nodepools.yaml", "NodePools to create on up")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: localcluster [flags] up|down\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fail(err)
	}
	switch flag.Arg(0) {
	case "up":
		err = up(abs, *samples)
	case "down":
		err = down(abs)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "localcluster:", err)
	os.Exit(1)
}

func up(dir, samples string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	kubeconfig := filepath.Join(dir, framework.KubeconfigName)
	if running(ctx, dir) {
		fmt.Printf("local control plane already running (logs in %s)\n", filepath.Join(dir, "logs"))
	} else {
		// Whatever is left of an earlier run is stopped and replaced.
		if err := down(dir); err != nil {
			return err
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		cp, err := framework.Start(ctx, framework.Options{Dir: dir, Detached: true})
		if err != nil {
			return err
		}
		if err := cp.InstallCRDs(ctx); err != nil {
			_ = down(dir)
			return err
		}
		fmt.Printf("started etcd (pid %d) and kube-apiserver (pid %d) at %s\n", cp.Etcd.PID, cp.APIServer.PID, cp.ServerURL)
		lh, err := cp.StartLeaderHub(ctx, framework.LeaderHubOptions{Detached: true,
			Args: []string{"--watch-bookmark-interval=10s"}})
		if err != nil {
			_ = down(dir)
			return err
		}
		fmt.Printf("started leaderhub-apiserver (pid %d) at %s\n", lh.Process.PID, lh.URL)
		if err := cp.RegisterAPIService(ctx, lh); err != nil {
			_ = down(dir)
			return err
		}
		fmt.Printf("registered APIService %s (caBundle, no insecureSkipTLSVerify): Available\n", framework.APIServiceName)
	}
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return err
	}
	if err := applySamples(ctx, cfg, samples); err != nil {
		return err
	}
	for _, args := range [][]string{{"get", "np"}, {"get", "lh", "-n", "kube-system", "-o", "wide"},
		{"get", "endpoints", "-n", "kube-system", "-l", "app.kubernetes.io/managed-by=leaderhub"}} {
		out, err := kubectl(ctx, kubeconfig, args...)
		fmt.Printf("\n$ kubectl --kubeconfig %s %s\n%s\n", kubeconfig, strings.Join(args, " "), out)
		if err != nil {
			return err
		}
	}
	fmt.Println()
	fmt.Printf("kubeconfig: %s\ncluster CA: %s\nstop with:  make local-down\n",
		kubeconfig, filepath.Join(dir, framework.PKIDir, "ca.crt"))
	return nil
}

// running reports whether every process of an earlier up is alive and
// kube-apiserver answers /readyz.
func running(ctx context.Context, dir string) bool {
	for _, name := range stopOrder {
		pid, err := framework.ReadPIDFile(filepath.Join(dir, name+".pid"))
		if err != nil || !framework.PIDAlive(pid) {
			return false
		}
	}
	cfg, err := restConfig(filepath.Join(dir, framework.KubeconfigName))
	if err != nil {
		return false
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return false
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/readyz", nil)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func down(dir string) error {
	var errs []error
	for _, name := range stopOrder {
		pidFile := filepath.Join(dir, name+".pid")
		if _, err := os.Stat(pidFile); err == nil {
			fmt.Printf("stopping %s\n", name)
		}
		errs = append(errs, framework.StopPIDFile(pidFile, 30*time.Second))
	}
	return errors.Join(errs...)
}

// applySamples creates each NodePool in file, or updates it, and writes its
// status through the status subresource.
func applySamples(ctx context.Context, cfg *rest.Config, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	pools := openyurtclient.NewForConfigOrDie(cfg).AppsV1beta2().NodePools()
	kube := kubernetes.NewForConfigOrDie(cfg)
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var np appsv1beta2.NodePool
		if err := decoder.Decode(&np); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("decoding %s: %w", file, err)
		}
		if np.Name == "" {
			continue
		}
		live, err := pools.Get(ctx, np.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			live, err = pools.Create(ctx, &np, metav1.CreateOptions{})
		case err == nil:
			live.Spec = np.Spec
			live, err = pools.Update(ctx, live, metav1.UpdateOptions{})
		}
		if err != nil {
			return fmt.Errorf("writing NodePool %s: %w", np.Name, err)
		}
		live.Status = np.Status
		if _, err := pools.UpdateStatus(ctx, live, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("writing NodePool %s status: %w", np.Name, err)
		}
		for _, l := range np.Status.LeaderEndpoints {
			if err := readyNode(ctx, kube, l.NodeName, np.Name, l.Address); err != nil {
				return err
			}
		}
	}
}

// readyNode creates a Node in a pool, Ready with an InternalIP, as its
// kubelet would report it (status through the status subresource), so the
// election tracker judges the sample leaders valid: READY in
// `kubectl get lh -o wide`.
func readyNode(ctx context.Context, kube kubernetes.Interface, name, pool, ip string) error {
	want := fixtures.Node(name, pool, true, ip)
	n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = framework.CreateNode(ctx, kube, want)
		return err
	}
	if err != nil {
		return fmt.Errorf("reading Node %s: %w", name, err)
	}
	n.Status = want.Status
	if _, err := kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("writing Node %s status: %w", name, err)
	}
	return nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	return framework.RESTConfigFromKubeconfig(kubeconfig)
}

func kubectl(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	root, err := framework.RepoRoot()
	if err != nil {
		return "", err
	}
	out, err := framework.Kubectl(ctx, filepath.Join(root, "_output", "bin"), kubeconfig, args...)
	return strings.TrimRight(out, "\n"), err
}
