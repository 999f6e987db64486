package materialize

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
	appsinformers "github.com/leaderhub/leaderhub/pkg/generated/informers/externalversions/apps/v1beta2"
	appslisters "github.com/leaderhub/leaderhub/pkg/generated/listers/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/projection"
)

// fieldManager names leaderhub in managedFields.
const fieldManager = "leaderhub"

// Event reasons, on the NodePool.
const (
	ReasonObjectConflict       = "ObjectConflict"
	ReasonInvalidLeaderAddress = "InvalidLeaderAddress"
	ReasonInvalidPoolName      = projection.ReasonInvalidPoolName
	ReasonMetadataTooLarge     = projection.ReasonPoolScopedMetadataTooLarge
	ReasonSyncFailed           = "SyncFailed"
)

// Options configure the controller.
type Options struct {
	Projection projection.Options
	// Forms to materialize; Endpoints by default.
	Forms   []Form
	Workers int
}

// Informers are the shared informers the controller reads; ConfigMaps may be
// nil when that form is off. Endpoints and ConfigMaps should be limited to
// leaderhub's namespace and its managed-by label.
type Informers struct {
	NodePools  appsinformers.NodePoolInformer
	Endpoints  coreinformers.EndpointsInformer
	ConfigMaps coreinformers.ConfigMapInformer
}

// poolState is what the metrics need to know of one pool.
type poolState struct {
	hasLeaders bool
	invalid    int
}

// Controller keeps every pool's materialized objects in line.
type Controller struct {
	opts     Options
	pools    appslisters.NodePoolLister
	kinds    []kind
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder

	registrations []func() // remove the event handlers

	mu    sync.Mutex
	state map[string]poolState
}

// New builds a controller and registers its event handlers; Run starts it.
// Adding the handlers replays every cached object, so each pool (and each
// managed object whose pool is gone) gets synced once on start.
func New(kube kubernetes.Interface, inf Informers, recorder record.EventRecorder, opts Options) (*Controller, error) {
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if len(opts.Forms) == 0 {
		opts.Forms = []Form{FormEndpoints}
	}
	c := &Controller{
		opts:     opts,
		pools:    inf.NodePools.Lister(),
		recorder: recorder,
		state:    map[string]poolState{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "leaderhub_materialize"}),
	}
	ns := opts.Projection.Namespace
	byPoolLabel := cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueOwner,
		UpdateFunc: func(_, obj interface{}) { c.enqueueOwner(obj) },
		DeleteFunc: c.enqueueOwner,
	}
	for _, form := range opts.Forms {
		switch form {
		case FormEndpoints:
			c.kinds = append(c.kinds, &endpointsKind{client: kube, lister: inf.Endpoints.Lister().Endpoints(ns), namespace: ns})
			if err := c.watch(inf.Endpoints.Informer(), byPoolLabel); err != nil {
				return nil, err
			}
		case FormConfigMap:
			if inf.ConfigMaps == nil {
				return nil, fmt.Errorf("the configmap form needs a ConfigMap informer")
			}
			c.kinds = append(c.kinds, &configMapKind{client: kube, lister: inf.ConfigMaps.Lister().ConfigMaps(ns), namespace: ns})
			if err := c.watch(inf.ConfigMaps.Informer(), byPoolLabel); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unknown form %q: want %s or %s", form, FormEndpoints, FormConfigMap)
		}
	}
	if err := c.watch(inf.NodePools.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueuePool,
		UpdateFunc: func(_, obj interface{}) { c.enqueuePool(obj) },
		DeleteFunc: c.enqueuePool,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Controller) watch(informer cache.SharedIndexInformer, h cache.ResourceEventHandler) error {
	reg, err := informer.AddEventHandler(h)
	if err != nil {
		return err
	}
	c.synced = append(c.synced, reg.HasSynced)
	c.registrations = append(c.registrations, func() { _ = informer.RemoveEventHandler(reg) })
	return nil
}

func (c *Controller) enqueuePool(obj interface{}) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key) // NodePools are cluster-scoped: the key is the name
}

// enqueueOwner enqueues the pool a managed object was projected from.
func (c *Controller) enqueueOwner(obj interface{}) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	if pool := m.GetLabels()[v1alpha1.LabelPoolName]; pool != "" {
		c.queue.Add(pool)
	}
}

// Run syncs pools with the configured number of workers until ctx ends, then
// removes its event handlers and drains.
func (c *Controller) Run(ctx context.Context) {
	defer utilruntime.HandleCrash()
	defer func() {
		for _, remove := range c.registrations {
			remove()
		}
	}()
	defer c.queue.ShutDown()
	klog.InfoS("Starting the materialize controller", "forms", c.opts.Forms, "workers", c.opts.Workers)
	if !cache.WaitForNamedCacheSync("leaderhub-materialize", ctx.Done(), c.synced...) {
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < c.opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait.UntilWithContext(ctx, c.worker, time.Second)
		}()
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
	klog.InfoS("Stopped the materialize controller")
}

func (c *Controller) worker(ctx context.Context) {
	for c.processNext(ctx) {
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	pool, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(pool)
	if err := c.sync(ctx, pool); err != nil {
		syncsTotal.WithLabelValues("error").Inc()
		klog.ErrorS(err, "Syncing pool failed; retrying with backoff", "nodePool", pool, "retries", c.queue.NumRequeues(pool))
		c.queue.AddRateLimited(pool)
		return true
	}
	lastSuccess.SetToCurrentTime()
	c.queue.Forget(pool)
	return true
}

// sync makes one pool's objects match its projection, or deletes them when
// the pool is gone.
func (c *Controller) sync(ctx context.Context, pool string) error {
	start := time.Now()
	defer func() { syncDuration.Observe(time.Since(start).Seconds()) }()

	np, err := c.pools.Get(pool)
	if apierrors.IsNotFound(err) {
		c.forget(pool)
		return c.deleteAll(ctx, pool)
	}
	if err != nil {
		return err
	}
	lh, invalid, err := projection.LeaderHub(np, c.opts.Projection)
	if err != nil {
		// Whatever was published for the pool before stays as it was.
		c.forget(pool)
		syncsTotal.WithLabelValues("skipped").Inc()
		reason := ReasonSyncFailed
		var ue *projection.UnpublishableError
		if errors.As(err, &ue) {
			reason = ue.Reason
		}
		c.recorder.Eventf(np, corev1.EventTypeWarning, reason,
			"leaderhub cannot publish this pool (objects already published for it are kept as they were): %v", err)
		klog.InfoS("Skipping a NodePool that cannot be projected", "nodePool", klog.KObj(np), "err", err)
		return nil
	}
	c.remember(pool, poolState{hasLeaders: len(lh.Subsets) > 0, invalid: len(invalid)})
	if len(invalid) > 0 {
		reasons := make([]string, 0, len(invalid))
		for _, l := range invalid {
			reasons = append(reasons, l.String())
		}
		c.recorder.Eventf(np, corev1.EventTypeWarning, ReasonInvalidLeaderAddress,
			"%d leader entries left out of %s: %s", len(invalid), lh.Name, strings.Join(reasons, "; "))
	}

	result := "unchanged"
	for _, k := range c.kinds {
		r, err := c.syncKind(ctx, np.Name, k, lh)
		if err != nil {
			c.recorder.Eventf(np, corev1.EventTypeWarning, ReasonSyncFailed, "syncing %s %s/%s: %v", k.form(), lh.Namespace, lh.Name, err)
			return fmt.Errorf("%s %s/%s: %w", k.form(), lh.Namespace, lh.Name, err)
		}
		if r != "unchanged" {
			result = r
		}
	}
	syncsTotal.WithLabelValues(result).Inc()
	if result != "unchanged" {
		klog.V(2).InfoS("Synced pool", "nodePool", klog.KObj(np), "result", result, "leaders", projection.LeadersString(lh.Subsets))
	}
	return nil
}

func (c *Controller) syncKind(ctx context.Context, pool string, k kind, lh *v1alpha1.LeaderHub) (string, error) {
	desired := k.desired(lh)
	live, err := k.get(lh.Name)
	if apierrors.IsNotFound(err) {
		err = k.create(ctx, desired)
		if err == nil {
			writesTotal.WithLabelValues(string(k.form()), "create").Inc()
			return "created", nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return "", err
		}
		existing, fetchErr := k.fetch(ctx, lh.Name)
		if fetchErr != nil {
			return "", fetchErr
		}
		if managed(existing) {
			return "", fmt.Errorf("exists but is not in the informer cache yet")
		}
		conflictsTotal.WithLabelValues(string(k.form())).Inc()
		if np, err := c.pools.Get(pool); err == nil {
			c.recorder.Eventf(np, corev1.EventTypeWarning, ReasonObjectConflict,
				"%s %s/%s exists and is not managed by leaderhub (no %s=%s label); leaving it untouched",
				k.form(), lh.Namespace, lh.Name, v1alpha1.LabelManagedBy, v1alpha1.ManagedByValue)
		}
		klog.InfoS("Leaving a foreign object untouched", "form", k.form(), "object", klog.KRef(lh.Namespace, lh.Name))
		return "conflict", nil
	}
	if err != nil {
		return "", err
	}
	if ownedMetaEqual(live, desired) && k.payloadEqual(live, desired) {
		return "unchanged", nil
	}
	if err := k.update(ctx, live, desired); err != nil {
		return "", err
	}
	writesTotal.WithLabelValues(string(k.form()), "update").Inc()
	return "updated", nil
}

// deleteAll deletes a gone pool's managed objects.
func (c *Controller) deleteAll(ctx context.Context, pool string) error {
	name := v1alpha1.ObjectName(pool)
	deleted := false
	for _, k := range c.kinds {
		live, err := k.get(name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := k.delete(ctx, live); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting %s %s: %w", k.form(), name, err)
		}
		writesTotal.WithLabelValues(string(k.form()), "delete").Inc()
		deleted = true
	}
	if deleted {
		syncsTotal.WithLabelValues("deleted").Inc()
		klog.V(2).InfoS("Deleted the objects of a deleted pool", "nodePool", pool)
	} else {
		syncsTotal.WithLabelValues("unchanged").Inc()
	}
	return nil
}

func (c *Controller) remember(pool string, s poolState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state[pool] = s
	c.updateGaugesLocked()
}

func (c *Controller) forget(pool string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.state, pool)
	c.updateGaugesLocked()
}

func (c *Controller) updateGaugesLocked() {
	without, invalid := 0, 0
	for _, s := range c.state {
		if !s.hasLeaders {
			without++
		}
		invalid += s.invalid
	}
	managedPools.Set(float64(len(c.state)))
	poolsWithoutLeaders.Set(float64(without))
	invalidLeaderAddresses.Set(float64(invalid))
}
