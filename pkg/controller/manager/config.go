package manager

import (
	"fmt"
	"slices"
	"strings"
	"time"

	componentbaseconfig "k8s.io/component-base/config"

	"github.com/leaderhub/leaderhub/pkg/controller/materialize"
	"github.com/leaderhub/leaderhub/pkg/election"
	"github.com/leaderhub/leaderhub/pkg/projection"
)

// Controller names, for --controllers.
const (
	// ControllerMaterialize keeps the Endpoints (and ConfigMaps, EndpointSlices).
	ControllerMaterialize = "materialize"
	// ControllerHubLeader elects the pools' leaders; off unless named.
	ControllerHubLeader = "hubleader"
)

// KnownControllers are the controllers --controllers can name.
var KnownControllers = []string{ControllerMaterialize, ControllerHubLeader}

// OffByDefault are the controllers "*" does not enable, as
// kube-controller-manager does with its opt-in controllers.
var OffByDefault = []string{ControllerHubLeader}

// Config is what the manager runs, and how.
type Config struct {
	// Materialize and HubLeader say which controllers run (ParseControllers).
	Materialize bool
	HubLeader   bool
	// Forms are what the materialize controller keeps (materialize.ParseForms).
	Forms      []materialize.Form
	Projection projection.Options
	// Workers is how many pools each controller syncs at once.
	Workers      int
	ResyncPeriod time.Duration
	// LeaderGrace is the elector's --leader-grace-period.
	LeaderGrace time.Duration
	// ElectionDeadline is how long a hub-leader election may take and
	// succeed (--election-deadline).
	ElectionDeadline time.Duration
	// Outages is how pools that lose their cloud link are judged and
	// treated (--pool-disruption-threshold, --pool-recovery-grace-period).
	Outages election.Policy
	// Lease is the controller lease (--leader-elect-*).
	Lease componentbaseconfig.LeaderElectionConfiguration
}

// ParseControllers resolves --controllers: "*" for all that are on by
// default, "name" to enable, "-name" to disable (which wins).
func ParseControllers(flags []string) (materializeOn, hubLeaderOn bool, err error) {
	if materializeOn, err = controllerEnabled(flags, ControllerMaterialize); err != nil {
		return false, false, err
	}
	hubLeaderOn, err = controllerEnabled(flags, ControllerHubLeader)
	return materializeOn, hubLeaderOn, err
}

func controllerEnabled(flags []string, name string) (bool, error) {
	enabled := false
	for _, f := range flags {
		switch {
		case f == "*":
			enabled = enabled || !slices.Contains(OffByDefault, name)
		case f == name:
			enabled = true
		case f == "-"+name:
			return false, nil
		case slices.Contains(KnownControllers, strings.TrimPrefix(f, "-")):
		default:
			return false, fmt.Errorf("--controllers: unknown controller %q (known: %s)", f, strings.Join(KnownControllers, ", "))
		}
	}
	return enabled, nil
}
