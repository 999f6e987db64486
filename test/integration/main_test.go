package integration

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/leaderhub/leaderhub/test/framework"
)

// controlPlane is shared by every test in this package.
var controlPlane *framework.ControlPlane

func TestMain(m *testing.M) {
	os.Exit(framework.MainWithControlPlane(m, &controlPlane))
}

// viewHistory is the watch history of the shared leaderhub, small so tests
// can push a resume point out of it.
const viewHistory = 16

// controllerResync is the shared leaderhub's controller resync period, short
// so a test can watch a full resync happen.
const controllerResync = 3 * time.Second

var (
	viewOnce sync.Once
	view     *framework.LeaderHub
	viewErr  error
)

// sharedView starts one leaderhub-apiserver for the package and registers
// it with kube-apiserver's aggregation layer; the control plane stops it.
func sharedView(t *testing.T) *framework.LeaderHub {
	t.Helper()
	viewOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		view, viewErr = controlPlane.StartLeaderHub(ctx, framework.LeaderHubOptions{Args: []string{
			"--watch-bookmark-interval=1s", "--watch-history=16",
			"--materialize=endpoints,configmap", "--controller-resync-period=" + controllerResync.String(),
		}})
		if viewErr == nil {
			viewErr = controlPlane.RegisterAPIService(ctx, view)
		}
	})
	if viewErr != nil {
		t.Fatalf("starting leaderhub: %v", viewErr)
	}
	return view
}
