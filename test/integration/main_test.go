package integration

import (
	"os"
	"testing"

	"github.com/leaderhub/leaderhub/test/framework"
)

// controlPlane is shared by every test in this package.
var controlPlane *framework.ControlPlane

func TestMain(m *testing.M) {
	os.Exit(framework.MainWithControlPlane(m, &controlPlane))
}
