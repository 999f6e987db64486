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
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
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
	Workers    int
	// ResyncPeriod is how often every pool is synced even when nothing
	// changed, to repair anything a missed event left behind; 0 never.
	ResyncPeriod time.Duration
}

// PoolSource is where the controller reads what to publish for each pool:
// the view store, which already holds every projection.
type PoolSource interface {
	HasSynced() bool
	// State is what is published for a NodePool and what is left out of it;
	// false when there is no such NodePool.
	State(pool string) (projection.State, bool)
	PoolNames() []string
	// AddListener has fn told the name of every pool whose State changes.
	AddListener(fn func(pool string)) (remove func())
	// EachState calls fn with every pool's State; fn must be quick.
	EachState(fn func(st *projection.State))
}

// Controller keeps every pool's materialized objects in line.
type Controller struct {
	opts     Options
	pools    PoolSource
	objects  []*ObjectCache
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
}

// New builds a controller over a pool source and one cache per form it
// materializes; Run starts it.
func New(pools PoolSource, objects []*ObjectCache, recorder record.EventRecorder, opts Options) (*Controller, error) {
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if len(objects) == 0 {
		return nil, errors.New("no form to materialize")
	}
	return &Controller{
		opts:     opts,
		pools:    pools,
		objects:  objects,
		recorder: recorder,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "leaderhub_materialize"}),
	}, nil
}

// enqueueAll queues every pool the source knows and every pool a managed
// object was made for, so gone pools' objects are deleted too.
func (c *Controller) enqueueAll() {
	for _, pool := range c.pools.PoolNames() {
		c.queue.Add(pool)
	}
	for _, oc := range c.objects {
		for _, pool := range oc.pools() {
			c.queue.Add(pool)
		}
	}
}

// Run syncs every pool once the caches have synced, then each pool whose
// projection or objects change, and all of them every resync period, with
// the configured number of workers until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	removeListener := c.pools.AddListener(c.queue.Add)
	defer removeListener()
	running.Store(c)
	defer running.CompareAndSwap(c, nil)
	synced := []cache.InformerSynced{c.pools.HasSynced}
	forms := make([]Form, 0, len(c.objects))
	for _, oc := range c.objects {
		oc.setListener(c.queue.Add)
		defer oc.setListener(nil)
		synced = append(synced, oc.HasSynced)
		forms = append(forms, oc.Form())
	}
	klog.InfoS("Starting the materialize controller", "forms", forms, "workers", c.opts.Workers, "resyncPeriod", c.opts.ResyncPeriod)
	if !cache.WaitForNamedCacheSync("leaderhub-materialize", ctx.Done(), synced...) {
		return
	}
	c.enqueueAll()
	var wg sync.WaitGroup
	for i := 0; i < c.opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait.UntilWithContext(ctx, c.worker, time.Second)
		}()
	}
	if c.opts.ResyncPeriod > 0 {
		go wait.UntilWithContext(ctx, func(context.Context) { c.enqueueAll() }, c.opts.ResyncPeriod)
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

// nodePoolRef stands for a NodePool in Events: all an Event needs of it.
func nodePoolRef(p *projection.Pool) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: appsv1beta2.SchemeGroupVersion.String(), Kind: "NodePool"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name(), UID: p.UID()},
	}
}

// sync makes one pool's objects match its projection, or deletes them when
// the pool is gone.
func (c *Controller) sync(ctx context.Context, pool string) error {
	start := time.Now()
	defer func() { syncDuration.Observe(time.Since(start).Seconds()) }()

	st, ok := c.pools.State(pool)
	if !ok {
		return c.deleteAll(ctx, pool)
	}
	ref := nodePoolRef(&st.Pool)
	if ue := st.Unpublishable; ue != nil {
		// Whatever was published for the pool before stays as it was.
		c.recorder.Eventf(ref, corev1.EventTypeWarning, ue.Reason,
			"leaderhub cannot publish this pool (objects already published for it are kept as they were): %v", ue)
		klog.InfoS("A NodePool cannot be projected; keeping what was published for it", "nodePool", klog.KObj(ref), "err", ue)
		if !st.Published {
			syncsTotal.WithLabelValues("skipped").Inc()
			return nil
		}
	}
	lh := st.Pool.LeaderHub(c.opts.Projection)
	if len(st.Invalid) > 0 {
		reasons := make([]string, 0, len(st.Invalid))
		for _, l := range st.Invalid {
			reasons = append(reasons, l.String())
		}
		c.recorder.Eventf(ref, corev1.EventTypeWarning, ReasonInvalidLeaderAddress,
			"%d leader entries left out of %s: %s", len(st.Invalid), lh.Name, strings.Join(reasons, "; "))
	}

	result := "unchanged"
	for _, oc := range c.objects {
		r, err := c.syncForm(ctx, ref, oc, lh)
		if err != nil {
			c.recorder.Eventf(ref, corev1.EventTypeWarning, ReasonSyncFailed, "syncing %s %s/%s: %v", oc.Form(), lh.Namespace, lh.Name, err)
			return fmt.Errorf("%s %s/%s: %w", oc.Form(), lh.Namespace, lh.Name, err)
		}
		if r != "unchanged" {
			result = r
		}
	}
	syncsTotal.WithLabelValues(result).Inc()
	if result != "unchanged" {
		klog.V(2).InfoS("Synced pool", "nodePool", klog.KObj(ref), "result", result, "leaders", projection.LeadersString(lh.Subsets))
	}
	return nil
}

// syncForm makes one form's object match lh. The cache says whether the
// object exists and whether its owned fields differ; only then is the live
// object read, and written on a copy of what was read.
func (c *Controller) syncForm(ctx context.Context, ref *metav1.PartialObjectMetadata, oc *ObjectCache, lh *v1alpha1.LeaderHub) (string, error) {
	k := oc.kind
	desired := k.desired(lh)
	want := oc.digestOf(desired)
	have, cached := oc.get(lh.Name)
	if !cached {
		err := k.create(ctx, desired)
		if err == nil {
			writesTotal.WithLabelValues(string(k.form()), "create").Inc()
			return "created", nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return "", err
		}
		existing, err := k.fetch(ctx, lh.Name)
		if err != nil {
			return "", err
		}
		if managed(existing) {
			return "", errors.New("exists but is not in the cache yet")
		}
		return c.conflict(ref, k.form(), lh), nil
	}
	if have == want {
		return "unchanged", nil
	}
	live, err := k.fetch(ctx, lh.Name)
	if err != nil {
		return "", err // deleted meanwhile: the delete event brings the pool back
	}
	if !managed(live) {
		return c.conflict(ref, k.form(), lh), nil
	}
	if oc.digestOf(live) == want {
		return "unchanged", nil // the cache was behind
	}
	if err := k.update(ctx, live, desired); err != nil {
		return "", err
	}
	writesTotal.WithLabelValues(string(k.form()), "update").Inc()
	return "updated", nil
}

// conflict reports an object with the pool's name that leaderhub does not
// manage, and leaves it alone.
func (c *Controller) conflict(ref *metav1.PartialObjectMetadata, form Form, lh *v1alpha1.LeaderHub) string {
	conflictsTotal.WithLabelValues(string(form)).Inc()
	c.recorder.Eventf(ref, corev1.EventTypeWarning, ReasonObjectConflict,
		"%s %s/%s exists and is not managed by leaderhub (no %s=%s label); leaving it untouched",
		form, lh.Namespace, lh.Name, v1alpha1.LabelManagedBy, v1alpha1.ManagedByValue)
	klog.InfoS("Leaving a foreign object untouched", "form", form, "object", klog.KRef(lh.Namespace, lh.Name))
	return "conflict"
}

// deleteAll deletes a gone pool's managed objects, read fresh so that an
// object someone else created meanwhile is left alone.
func (c *Controller) deleteAll(ctx context.Context, pool string) error {
	name := v1alpha1.ObjectName(pool)
	deleted := false
	for _, oc := range c.objects {
		if _, cached := oc.get(name); !cached {
			continue
		}
		live, err := oc.kind.fetch(ctx, name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if !managed(live) {
			continue
		}
		if err := oc.kind.delete(ctx, live); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting %s %s: %w", oc.Form(), name, err)
		}
		writesTotal.WithLabelValues(string(oc.Form()), "delete").Inc()
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

// poolTotals are what the pool gauges report.
type poolTotals struct {
	managed, withoutLeaders, invalidLeaders int
}

// totals counts, over the source's current states, the pools whose objects
// the controller keeps, those without a valid leader, and the leader entries
// left out. Counting at scrape time keeps nothing per pool.
func (c *Controller) totals() poolTotals {
	var t poolTotals
	c.pools.EachState(func(st *projection.State) {
		if !st.Published {
			return
		}
		t.managed++
		if st.Pool.LeaderCount() == 0 {
			t.withoutLeaders++
		}
		t.invalidLeaders += len(st.Invalid)
	})
	return t
}
