package server

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	componentbaseconfig "k8s.io/component-base/config"
	"k8s.io/klog/v2"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/controller/materialize"
	"github.com/leaderhub/leaderhub/pkg/projection"
	"github.com/leaderhub/leaderhub/pkg/registry/leaderhub/viewstore"

	// Register client-go's request metrics (rest_client_requests_total and
	// so on) and the workqueue metrics (depth, adds, latency) on /metrics.
	_ "k8s.io/component-base/metrics/prometheus/restclient"
	_ "k8s.io/component-base/metrics/prometheus/workqueue"
)

// ControllerMaterialize is the name of the controller that keeps the
// Endpoints (and ConfigMaps), for --controllers.
const ControllerMaterialize = "materialize"

// knownControllers are the controllers --controllers can name.
var knownControllers = []string{ControllerMaterialize}

// ControllerConfig is the configuration of the controllers.
type ControllerConfig struct {
	Enabled        bool
	Forms          []materialize.Form
	Workers        int
	ResyncPeriod   time.Duration
	LeaderElection componentbaseconfig.LeaderElectionConfiguration
}

// controllersEnabled resolves --controllers: "*" for all, "name" to enable,
// "-name" to disable.
func controllersEnabled(flags []string, name string) (bool, error) {
	enabled := false
	for _, f := range flags {
		switch {
		case f == "*":
			enabled = true
		case f == name:
			enabled = true
		case f == "-"+name:
			return false, nil
		case slices.Contains(knownControllers, strings.TrimPrefix(f, "-")):
		default:
			return false, fmt.Errorf("--controllers: unknown controller %q (known: %s)", f, strings.Join(knownControllers, ", "))
		}
	}
	return enabled, nil
}

// The view store is the controller's source of projections.
var _ materialize.PoolSource = &viewstore.Store{}

// runControllers runs the enabled controllers until ctx ends. The object
// caches run on every replica, so a replica that takes the lease over starts
// warm; the controller itself runs only while this replica holds the lease.
// It reads the projections from the view, which every replica keeps anyway.
func (s *Server) runControllers(ctx context.Context, restConfig *rest.Config, cfg ControllerConfig, popts projection.Options) {
	if !cfg.Enabled {
		klog.InfoS("Controllers disabled")
		return
	}
	restConfig = rest.CopyConfig(restConfig)
	restConfig.UserAgent = "leaderhub-controller"
	restConfig.WarningHandler = rest.NoWarnings{} // core/v1 Endpoints are deprecated upstream, but they are the contract
	kube := kubernetes.NewForConfigOrDie(restConfig)

	objects := make([]*materialize.ObjectCache, 0, len(cfg.Forms))
	for _, form := range cfg.Forms {
		oc, err := materialize.NewObjectCache(kube, form, popts)
		if err != nil {
			klog.ErrorS(err, "Cannot start the materialize controller")
			return
		}
		objects = append(objects, oc)
		go oc.Run(ctx)
	}

	eventScheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(eventScheme))
	utilruntime.Must(appsv1beta2.AddToScheme(eventScheme))
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartStructuredLogging(3)
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(eventScheme, corev1.EventSource{Component: "leaderhub"})

	materialize.RegisterMetrics()
	run := func(ctx context.Context) {
		c, err := materialize.New(s.view, objects, recorder, materialize.Options{
			Projection: popts, Workers: cfg.Workers, ResyncPeriod: cfg.ResyncPeriod})
		if err != nil {
			klog.ErrorS(err, "Cannot start the materialize controller")
			return
		}
		c.Run(ctx)
	}
	le := cfg.LeaderElection
	if !le.LeaderElect {
		materialize.SetLeader(true)
		run(ctx)
		return
	}
	hostname, _ := os.Hostname()
	identity := fmt.Sprintf("%s_%d_%s", hostname, os.Getpid(), uuid.NewUUID())
	lock, err := resourcelock.New(le.ResourceLock, le.ResourceNamespace, le.ResourceName,
		kube.CoreV1(), kube.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: identity})
	if err != nil {
		klog.ErrorS(err, "Cannot build the controller's leader election lock")
		return
	}
	for ctx.Err() == nil {
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock:            lock,
			Name:            "leaderhub-controller",
			LeaseDuration:   le.LeaseDuration.Duration,
			RenewDeadline:   le.RenewDeadline.Duration,
			RetryPeriod:     le.RetryPeriod.Duration,
			ReleaseOnCancel: true,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					klog.InfoS("Holding the controller lease; running controllers", "identity", identity)
					materialize.SetLeader(true)
					run(ctx)
				},
				OnStoppedLeading: func() {
					materialize.SetLeader(false)
					klog.InfoS("Lost or released the controller lease; controllers stopped", "identity", identity)
				},
				OnNewLeader: func(holder string) {
					if holder != identity {
						klog.InfoS("Another replica runs the controllers", "holder", holder)
					}
				},
			},
		})
	}
}
