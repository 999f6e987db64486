package framework

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
)

// ChartDir is the Helm chart, relative to the repository root.
const ChartDir = "charts/leaderhub"

// Helm runs the pinned helm CLI (built into <BinDir> by hack/build-tools.sh)
// against a control plane as admin, with its cache, config and data kept in
// a directory of its own.
type Helm struct {
	binary, kubeconfig, home string
}

// Helm returns a helm runner for cp whose state lives under home, building
// the pinned helm into cp.BinDir first if it is missing or stale.
func (cp *ControlPlane) Helm(home string) (*Helm, error) {
	if err := buildHelm(cp.BinDir); err != nil {
		return nil, err
	}
	return &Helm{binary: filepath.Join(cp.BinDir, "helm"), kubeconfig: cp.Kubeconfig, home: home}, nil
}

// Env is the environment helm runs with (its cache, config and data
// directories and the kubeconfig), for a script that calls helm itself.
func (h *Helm) Env() []string {
	return append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(h.home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(h.home, "config"),
		"HELM_DATA_HOME="+filepath.Join(h.home, "data"),
		"KUBECONFIG="+h.kubeconfig)
}

// Run runs helm with args in the repository root and returns its standard
// output; standard error is included in the error.
func (h *Helm) Run(ctx context.Context, args ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, h.binary, append([]string{"--kubeconfig=" + h.kubeconfig}, args...)...)
	cmd.Dir = root
	cmd.Env = h.Env()
	return runOutput(cmd)
}
