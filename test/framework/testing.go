package framework

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// MainWithControlPlane runs a test binary's tests against one control plane
// shared by the package: it starts it (with the CRDs installed), stores it
// in *cp, runs the tests, prints the process logs when a test failed, and
// stops every process. A run fails when a test failed or when a process had
// to be killed at the end (it hung on SIGTERM). A failed run keeps its
// directory, logs included, and names it last. Use it from TestMain:
// os.Exit(MainWithControlPlane(m, &cp)).
func MainWithControlPlane(m *testing.M, cp **ControlPlane) (code int) {
	dir, err := os.MkdirTemp("", "leaderhub-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if code == 0 {
			os.RemoveAll(dir)
			return
		}
		fmt.Fprintf(os.Stderr, "the failed run's certificates, data and process logs are kept in %s\n", dir)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	started, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting control plane: %v\n", err)
		return 1
	}
	defer func() {
		if err := started.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping control plane: %v\n", err)
			code = 1
		}
	}()
	if err := started.InstallCRDs(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "installing CRDs: %v\n%s", err, started.Logs(16384))
		return 1
	}
	*cp = started
	code = m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "control plane logs:\n%s", started.Logs(16384))
	}
	return code
}

// StopOnCleanup stops p (SIGTERM, then SIGKILL after grace) when the test
// ends, unless the test stopped it itself, and fails the test if p had to
// be killed or would not die.
func StopOnCleanup(t testing.TB, p *Process, grace time.Duration) {
	t.Helper()
	t.Cleanup(func() {
		if err := p.Stop(grace); err != nil {
			t.Errorf("stopping %s: %v\n%s", p.Name, err, p.Tail(4096))
		}
	})
}

// Kubectl runs the built kubectl against the control plane as admin and
// returns its standard output; standard error is included in the error.
func (cp *ControlPlane) Kubectl(ctx context.Context, args ...string) (string, error) {
	return Kubectl(ctx, cp.BinDir, cp.Kubeconfig, args...)
}

// Kubectl runs binDir/kubectl with a kubeconfig and returns its standard
// output; standard error is included in the error.
func Kubectl(ctx context.Context, binDir, kubeconfig string, args ...string) (string, error) {
	return runOutput(exec.CommandContext(ctx, filepath.Join(binDir, "kubectl"), append([]string{"--kubeconfig=" + kubeconfig}, args...)...))
}

// KubectlInput runs kubectl as admin with input on its standard input (for
// `-f -`) and returns its standard output.
func (cp *ControlPlane) KubectlInput(ctx context.Context, input []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(cp.BinDir, "kubectl"), append([]string{"--kubeconfig=" + cp.Kubeconfig}, args...)...)
	cmd.Stdin = bytes.NewReader(input)
	return runOutput(cmd)
}

// runOutput runs cmd and returns its standard output; standard error is
// included in the error.
func runOutput(cmd *exec.Cmd) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(cmd.Path), strings.Join(cmd.Args[1:], " "), err, stderr.String())
	}
	return stdout.String(), nil
}
