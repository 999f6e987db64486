package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apiserver/pkg/server/healthz"
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
	"github.com/leaderhub/leaderhub/pkg/controller/hubleader"
	"github.com/leaderhub/leaderhub/pkg/controller/materialize"
	"github.com/leaderhub/leaderhub/pkg/election"
	openyurtv1beta2 "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned/typed/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/instancemetrics"
	"github.com/leaderhub/leaderhub/pkg/projection"
	"github.com/leaderhub/leaderhub/pkg/registry/leaderhub/viewstore"

	// Register client-go's request metrics (rest_client_requests_total and
	// so on) and the workqueue metrics (depth, adds, latency) on /metrics.
	_ "k8s.io/component-base/metrics/prometheus/restclient"
	_ "k8s.io/component-base/metrics/prometheus/workqueue"
)

// Controller names, for --controllers.
const (
	// ControllerMaterialize keeps the Endpoints (and ConfigMaps).
	ControllerMaterialize = "materialize"
	// ControllerHubLeader elects the pools' leaders; off unless named.
	ControllerHubLeader = "hubleader"
)

// knownControllers are the controllers --controllers can name.
var knownControllers = []string{ControllerMaterialize, ControllerHubLeader}

// offByDefault are the controllers "*" does not enable, as
// kube-controller-manager does with its opt-in controllers.
var offByDefault = []string{ControllerHubLeader}

// ControllerConfig is the configuration of the controllers.
type ControllerConfig struct {
	Materialize bool
	HubLeader   bool
	// LeaderGrace is the elector's --leader-grace-period.
	LeaderGrace    time.Duration
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
			enabled = enabled || !slices.Contains(offByDefault, name)
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

// controllers are the enabled controllers, built whole by newControllers so
// that whatever can fail does before the server serves, and run by a
// post-start hook. The object caches run on every replica, so a replica
// that takes the lease over starts warm; the controllers themselves run only
// while this replica holds the lease.
type controllers struct {
	// materialize is nil when off, and so is elector.
	materialize *materialize.Controller
	elector     *hubleader.Controller
	caches      []*materialize.ObjectCache
	broadcaster record.EventBroadcaster
	events      typedcorev1.EventInterface
	// election is nil when --leader-elect=false.
	election *leaderelection.LeaderElectionConfig
	lock     *observedLock
}

// nodePoolStatus writes NodePool status for the elector, through the
// status subresource of the JSON NodePool client.
type nodePoolStatus struct {
	pools openyurtv1beta2.NodePoolInterface
}

var _ hubleader.StatusPatcher = nodePoolStatus{}

func (n nodePoolStatus) PatchStatus(ctx context.Context, name string, patch []byte) (*appsv1beta2.NodePool, error) {
	return n.pools.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: hubleader.FieldManager}, "status")
}

// newControllers builds the enabled controllers over the view and the
// election tracker; nil when none is enabled.
func newControllers(restConfig *rest.Config, cfg ControllerConfig, popts projection.Options, view *viewstore.Store,
	tracker *election.Tracker, pools openyurtv1beta2.NodePoolInterface) (*controllers, error) {
	if !cfg.Materialize && !cfg.HubLeader {
		return nil, nil
	}
	restConfig = rest.CopyConfig(restConfig)
	restConfig.UserAgent = "leaderhub-controller"
	restConfig.WarningHandler = rest.NoWarnings{} // core/v1 Endpoints are deprecated upstream, but they are the contract
	kube, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return nil, fmt.Errorf("building the controller's client: %w", err)
	}
	c := &controllers{events: kube.CoreV1().Events("")}
	eventScheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(eventScheme))
	utilruntime.Must(appsv1beta2.AddToScheme(eventScheme))
	c.broadcaster = record.NewBroadcaster()
	recorder := c.broadcaster.NewRecorder(eventScheme, corev1.EventSource{Component: "leaderhub"})

	if cfg.Materialize {
		for _, form := range cfg.Forms {
			oc, err := materialize.NewObjectCache(kube, form, popts)
			if err != nil {
				return nil, fmt.Errorf("materialize controller: %w", err)
			}
			c.caches = append(c.caches, oc)
		}
		c.materialize, err = materialize.New(view, c.caches, recorder, materialize.Options{
			Projection: popts, Workers: cfg.Workers, ResyncPeriod: cfg.ResyncPeriod})
		if err != nil {
			return nil, fmt.Errorf("materialize controller: %w", err)
		}
		c.materialize.RegisterMetrics(instancemetrics.Legacy())
	}
	if cfg.HubLeader {
		c.elector = hubleader.New(tracker, nodePoolStatus{pools: pools},
			c.broadcaster.NewRecorder(eventScheme, corev1.EventSource{Component: "leaderhub-hubleader"}),
			hubleader.Options{Workers: cfg.Workers, Grace: cfg.LeaderGrace})
		c.elector.RegisterMetrics(instancemetrics.Legacy())
	}

	le := cfg.LeaderElection
	if !le.LeaderElect {
		return c, nil
	}
	hostname, _ := os.Hostname()
	identity := fmt.Sprintf("%s_%d_%s", hostname, os.Getpid(), uuid.NewUUID())
	lock, err := resourcelock.New(le.ResourceLock, le.ResourceNamespace, le.ResourceName,
		kube.CoreV1(), kube.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: identity})
	if err != nil {
		return nil, fmt.Errorf("controller leader election: %w", err)
	}
	c.lock = &observedLock{Interface: lock}
	c.election = &leaderelection.LeaderElectionConfig{
		Lock:            c.lock,
		Name:            "leaderhub-controller",
		LeaseDuration:   le.LeaseDuration.Duration,
		RenewDeadline:   le.RenewDeadline.Duration,
		RetryPeriod:     le.RetryPeriod.Duration,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				klog.InfoS("Holding the controller lease; running controllers", "identity", identity)
				c.runControllers(ctx)
			},
			OnStoppedLeading: func() {
				klog.InfoS("Lost or released the controller lease; controllers stopped", "identity", identity)
			},
			OnNewLeader: func(holder string) {
				if holder != identity {
					klog.InfoS("Another replica runs the controllers", "holder", holder)
				}
			},
		},
	}
	// The elector checks its configuration (lease longer than the renew
	// deadline, and so on): a bad one stops the process here, not later.
	if _, err := leaderelection.NewLeaderElector(*c.election); err != nil {
		return nil, fmt.Errorf("controller leader election (--leader-elect-*): %w", err)
	}
	return c, nil
}

// readyzChecks are what a running replica's controllers need that can fail
// only after start: the object caches must sync, and the lease must be
// readable and writable (holding it or not).
func (c *controllers) readyzChecks() []healthz.HealthChecker {
	checks := []healthz.HealthChecker{healthz.NamedCheck("controller-caches-synced", func(*http.Request) error {
		for _, oc := range c.caches {
			if !oc.HasSynced() {
				return fmt.Errorf("the controller's %s cache has not synced yet", oc.Form())
			}
		}
		return nil
	})}
	if c.lock != nil {
		checks = append(checks, healthz.NamedCheck("controller-lease", func(*http.Request) error {
			if err := c.lock.lastError(); err != nil {
				return fmt.Errorf("the controller lease %s cannot be read or written: %w", c.lock.Describe(), err)
			}
			return nil
		}))
	}
	return checks
}

// run runs the controllers until ctx ends.
func (c *controllers) run(ctx context.Context) {
	c.broadcaster.StartStructuredLogging(3)
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.events})
	defer c.broadcaster.Shutdown()
	for _, oc := range c.caches {
		go oc.Run(ctx)
	}
	if c.election == nil {
		c.runControllers(ctx)
		return
	}
	for ctx.Err() == nil {
		elector, err := leaderelection.NewLeaderElector(*c.election)
		if err != nil { // checked in newControllers; cannot happen
			klog.ErrorS(err, "Cannot run the controller's leader election")
			return
		}
		elector.Run(ctx)
	}
}

// runControllers runs the enabled controllers until ctx ends.
func (c *controllers) runControllers(ctx context.Context) {
	var wg sync.WaitGroup
	if c.materialize != nil {
		wg.Go(func() { c.materialize.Run(ctx) })
	}
	if c.elector != nil {
		wg.Go(func() { c.elector.Run(ctx) })
	}
	wg.Wait()
}

// observedLock is a resource lock that remembers whether its last use
// failed, for the controller-lease readiness check. A missing lease (before
// the first replica creates it) and a lost race are not failures.
type observedLock struct {
	resourcelock.Interface
	mu  sync.Mutex
	err error
}

func (l *observedLock) observe(err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err == nil, apierrors.IsNotFound(err), apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		l.err = nil
	default:
		l.err = err
	}
	return err
}

func (l *observedLock) lastError() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *observedLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	rec, raw, err := l.Interface.Get(ctx)
	return rec, raw, l.observe(err)
}

func (l *observedLock) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	return l.observe(l.Interface.Create(ctx, ler))
}

func (l *observedLock) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	return l.observe(l.Interface.Update(ctx, ler))
}
