package manager

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/controller/hubleader"
	"github.com/leaderhub/leaderhub/pkg/controller/materialize"
	"github.com/leaderhub/leaderhub/pkg/controller/runner"
	"github.com/leaderhub/leaderhub/pkg/election"
	"github.com/leaderhub/leaderhub/pkg/feed"
	openyurtclient "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned"
	openyurtv1beta2 "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned/typed/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/instancemetrics"
	"github.com/leaderhub/leaderhub/pkg/registry/leaderhub/viewstore"

	// Register client-go's request metrics (rest_client_requests_total and
	// so on) and the workqueue metrics (depth, adds, latency) on /metrics.
	_ "k8s.io/component-base/metrics/prometheus/restclient"
	_ "k8s.io/component-base/metrics/prometheus/workqueue"
)

// The view store is the materialize controller's source of projections.
var _ materialize.PoolSource = &viewstore.Store{}

// Manager runs the feeds, the election tracker and the controllers.
type Manager struct {
	nodePools  *feed.NodePools
	nodes      *feed.Nodes
	viewSynced cache.InformerSynced
	tracker    *election.Tracker
	// controllers is nil when none is enabled.
	controllers *controllers
}

// New builds everything the manager runs over restConfig (leaderhub's own
// connection to kube-apiserver), with view as the NodePools' first store.
func New(restConfig *rest.Config, cfg Config, view *viewstore.Store) (*Manager, error) {
	openyurt, err := openyurtclient.NewForConfig(restConfig)
	if err != nil {
		return nil, fmt.Errorf("building the NodePool client: %w", err)
	}
	// Nodes are read as protobuf: they are many, and large before the
	// Node cache keeps what it reads of them. And uncompressed: the Node
	// watch is mostly heartbeats, which the cache drops, and gunzipping
	// them was a fifth of a heartbeat's CPU here (and gzipping them
	// kube-apiserver's), to save bytes inside the cluster.
	nodeConfig := rest.CopyConfig(restConfig)
	nodeConfig.ContentType = runtime.ContentTypeProtobuf
	nodeConfig.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	nodeConfig.DisableCompression = true
	nodeClient, err := kubernetes.NewForConfig(nodeConfig)
	if err != nil {
		return nil, fmt.Errorf("building the Node client: %w", err)
	}
	nodes := feed.NewNodes(nodeClient)
	tracker := election.NewTracker(nodes, election.Options{Deadline: cfg.ElectionDeadline, Policy: cfg.Outages})
	tracker.RegisterMetrics(instancemetrics.Legacy())
	runner.RegisterMetrics(instancemetrics.Legacy())
	nodes.AddHandler(tracker.NodeHandler())
	pools := openyurt.AppsV1beta2().NodePools()
	view.SetConsistentReader(feed.NewConsistentNodePools(pools))
	ctrls, err := newControllers(restConfig, cfg, view, tracker, pools)
	if err != nil {
		return nil, err
	}
	return &Manager{
		nodePools: feed.NewNodePools(pools, view, tracker), nodes: nodes, viewSynced: view.HasSynced,
		tracker: tracker, controllers: ctrls,
	}, nil
}

// Tracker is the election tracker (for the view's READY column).
func (m *Manager) Tracker() *election.Tracker { return m.tracker }

// Nodes is the Node cache (for the node authorizer).
func (m *Manager) Nodes() *feed.Nodes { return m.nodes }

// NodesSynced reports whether the Node cache holds the first list.
func (m *Manager) NodesSynced() bool { return m.nodes.HasSynced() }

// ReadyzChecks are what a replica needs, besides the view, before it is
// ready: the tracker judging and, with controllers, their object caches
// synced. The controller lease is not one of them: a Lease that cannot be
// read or written (leaderhub_controller_lease_failing) must not take every
// replica, and the view with them, out of service.
func (m *Manager) ReadyzChecks() []healthz.HealthChecker {
	var checks []healthz.HealthChecker
	if m.controllers != nil {
		checks = append(checks, m.controllers.readyzChecks()...)
	}
	return append(checks, healthz.NamedCheck("election-tracker-started", func(*http.Request) error {
		if !m.tracker.Started() {
			return errors.New("the Node cache has not synced yet: hub-leader elections are not judged")
		}
		return nil
	}))
}

// Run runs the feeds, the tracker and the object caches until ctx ends, and
// the controllers, under the controller lease, until ctx or controllersCtx
// ends: shutdown stops them (and hands the lease over) as soon as it
// begins, while the feeds keep the view current for as long as it serves.
// Run returns once all of it has stopped, the lease released.
func (m *Manager) Run(ctx, controllersCtx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { m.nodePools.Run(ctx) })
	wg.Go(func() { m.nodes.Run(ctx) })
	wg.Go(func() {
		// The tracker judges once both the NodePools and the Nodes are in:
		// a half-filled Node cache would read as stale leaders.
		if cache.WaitForNamedCacheSyncWithContext(ctx, m.viewSynced, m.nodes.HasSynced) {
			m.tracker.Start()
		}
	})
	if m.controllers != nil {
		stop, cancel := context.WithCancel(controllersCtx)
		defer cancel()
		context.AfterFunc(ctx, cancel)
		wg.Go(func() { m.controllers.run(stop) })
	} else {
		klog.InfoS("Controllers disabled")
	}
	wg.Wait()
}

// controllers are the enabled controllers, their object caches and Events,
// and the controller lease they run under.
type controllers struct {
	// materialize is nil when off, and so is elector.
	materialize *materialize.Controller
	elector     *hubleader.Controller
	caches      []*materialize.ObjectCache
	broadcaster record.EventBroadcaster
	events      typedcorev1.EventInterface
	// lease is nil with --leader-elect=false, and so are leaseLock and
	// releases.
	lease     *leaderelection.LeaderElectionConfig
	leaseLock *observedLock
	releases  *releaseWatch
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
func newControllers(restConfig *rest.Config, cfg Config, view *viewstore.Store, tracker *election.Tracker,
	pools openyurtv1beta2.NodePoolInterface) (*controllers, error) {
	if !cfg.Materialize && !cfg.HubLeader {
		return nil, nil
	}
	restConfig = rest.CopyConfig(restConfig)
	restConfig.UserAgent = "leaderhub-controller"
	restConfig.WarningHandler = rest.NoWarnings{} // core/v1 Endpoints are deprecated upstream, but they are the contract
	kube, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return nil, fmt.Errorf("building the controllers' client: %w", err)
	}
	c := &controllers{events: kube.CoreV1().Events(""), broadcaster: record.NewBroadcaster()}
	eventScheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(eventScheme))
	utilruntime.Must(appsv1beta2.AddToScheme(eventScheme))

	if cfg.Materialize {
		for _, form := range cfg.Forms {
			oc, err := materialize.NewObjectCache(kube, form, cfg.Projection)
			if err != nil {
				return nil, fmt.Errorf("materialize controller: %w", err)
			}
			c.caches = append(c.caches, oc)
		}
		c.materialize, err = materialize.New(view, c.caches,
			c.broadcaster.NewRecorder(eventScheme, corev1.EventSource{Component: "leaderhub"}),
			materialize.Options{Projection: cfg.Projection, Workers: cfg.Workers, ResyncPeriod: cfg.ResyncPeriod})
		if err != nil {
			return nil, fmt.Errorf("materialize controller: %w", err)
		}
		c.materialize.RegisterMetrics(instancemetrics.Legacy())
	}
	if cfg.HubLeader {
		c.elector = hubleader.New(tracker, nodePoolStatus{pools: pools},
			c.broadcaster.NewRecorder(eventScheme, corev1.EventSource{Component: "leaderhub-hubleader"}),
			hubleader.Options{Workers: cfg.Workers, Grace: cfg.LeaderGrace, Policy: cfg.Outages,
				Settle: hubleader.DefaultSettle})
		c.elector.RegisterMetrics(instancemetrics.Legacy())
	}
	if cfg.Lease.LeaderElect {
		if c.lease, c.leaseLock, err = newLease(kube, cfg.Lease, c.runControllers); err != nil {
			return nil, err
		}
		c.releases = newReleaseWatch(kube, cfg.Lease)
		instancemetrics.Legacy().CustomMustRegister(c.leaseLock.metrics())
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
	return checks
}

// run runs the object caches on this replica and the controllers while it
// holds the lease (always, without one), until ctx ends.
func (c *controllers) run(ctx context.Context) {
	c.broadcaster.StartStructuredLogging(3)
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.events})
	defer c.broadcaster.Shutdown()
	var caches sync.WaitGroup
	defer caches.Wait()
	for _, oc := range c.caches {
		caches.Go(func() { oc.Run(ctx) })
	}
	if c.lease == nil {
		c.runControllers(ctx)
		return
	}
	// The lease outlives ctx until this term's controllers have stopped:
	// then it is released (ReleaseOnCancel), so a successor never writes
	// while they still do.
	leaseCtx, release := context.WithCancel(context.WithoutCancel(ctx))
	defer release()
	stopped := context.AfterFunc(ctx, func() {
		c.waitStopped(context.Background())
		release()
	})
	defer stopped()
	lease := *c.lease
	var leading atomic.Bool
	start, stop := lease.Callbacks.OnStartedLeading, lease.Callbacks.OnStoppedLeading
	lease.Callbacks.OnStartedLeading = func(term context.Context) {
		leading.Store(true)
		if ctx.Err() != nil {
			return // won while shutting down: released at once
		}
		term, end := context.WithCancel(term)
		defer end()
		context.AfterFunc(ctx, end)
		start(term)
	}
	lease.Callbacks.OnStoppedLeading = func() {
		switch {
		case !leading.Swap(false):
			// client-go calls it when any attempt ends, held or not.
		case ctx.Err() != nil:
			klog.InfoS("Shutting down: controllers stopped, controller lease released for a successor to take at once",
				"lease", lease.Lock.Describe())
		default:
			stop()
		}
	}
	go c.releases.informer.RunWithContext(leaseCtx)
	for leaseCtx.Err() == nil {
		leaseElector, err := leaderelection.NewLeaderElector(lease)
		if err != nil { // checked in newLease; cannot happen
			klog.ErrorS(err, "Cannot take part in the controller lease")
			return
		}
		// Waiting for the lease, an attempt that learns it was released
		// ends, and the next one tries at once; holding it, never.
		attempt, retry := context.WithCancel(leaseCtx)
		go func() {
			select {
			case <-c.releases.released:
				if !leaseElector.IsLeader() {
					klog.V(2).InfoS("The controller lease was released; trying for it now")
					retry()
				}
			case <-attempt.Done():
			}
		}()
		leaseElector.Run(attempt)
		retry()
	}
}

// waitStopped returns once no controller runs (or ctx ends).
func (c *controllers) waitStopped(ctx context.Context) {
	if c.materialize != nil {
		c.materialize.WaitStopped(ctx)
	}
	if c.elector != nil {
		c.elector.WaitStopped(ctx)
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
