package materialize

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/controller/runner"
	"github.com/leaderhub/leaderhub/pkg/feed"
	"github.com/leaderhub/leaderhub/pkg/projection"
)

// fieldManager names leaderhub in managedFields.
const fieldManager = "leaderhub"

// Event reasons, on the NodePool.
const (
	ReasonObjectConflict       = "ObjectConflict"
	ReasonInvalidLeaderAddress = "InvalidLeaderAddress"
	ReasonInvalidPoolName      = projection.ReasonInvalidPoolName
	ReasonSyncFailed           = "SyncFailed"
	// ReasonPoolNameTooLongForConfigMap: the upstream ConfigMap's
	// openyurt.io/configmap-name label holds leader-hub-<pool>, a label value
	// of at most 63 characters, so pools named with more than 52 have none.
	ReasonPoolNameTooLongForConfigMap = "PoolNameTooLongForConfigMap"
	// ReasonObjectInvalid: kube-apiserver rejected the object as invalid.
	ReasonObjectInvalid = "ObjectInvalid"
)

// syncResult is what a sync did to a pool's objects: the result label of
// leaderhub_controller_syncs_total.
type syncResult string

const (
	resultUnchanged syncResult = "unchanged"
	resultCreated   syncResult = "created"
	resultUpdated   syncResult = "updated"
	resultDeleted   syncResult = "deleted"
	resultConflict  syncResult = "conflict"
	resultRejected  syncResult = "rejected"
	resultSkipped   syncResult = "skipped"
	resultError     syncResult = "error"
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
// the view store, which already holds every projection, and tells its
// listeners the name of every pool whose State changes.
type PoolSource interface {
	feed.Notifier
	HasSynced() bool
	// State is what is published for a NodePool and what is left out of it;
	// false when there is no such NodePool.
	State(pool string) (projection.State, bool)
	PoolNames() []string
	// EachState calls fn with every pool's State; fn must be quick.
	EachState(fn func(st *projection.State))
}

// Controller keeps every pool's materialized objects in line. It is built
// once; Run runs it for as long as this replica holds the controller lease,
// and may be called again after it returns.
type Controller struct {
	opts       Options
	pools      PoolSource
	objects    []*ObjectCache
	recorder   record.EventRecorder
	metrics    *controllerMetrics
	rejections rejections
	notices    notices
	runner     *runner.Runner
}

// New builds a controller over a pool source and one cache per form it
// materializes; Run starts it.
func New(pools PoolSource, objects []*ObjectCache, recorder record.EventRecorder, opts Options) (*Controller, error) {
	if len(objects) == 0 {
		return nil, errors.New("no form to materialize")
	}
	c := &Controller{
		opts:       opts,
		pools:      pools,
		objects:    objects,
		recorder:   recorder,
		rejections: rejections{byKey: map[rejectionKey]rejection{}},
		notices:    notices{byKey: map[noticeKey]string{}},
	}
	sources := []feed.Notifier{pools}
	synced := []cache.InformerSynced{pools.HasSynced}
	for _, oc := range objects {
		sources = append(sources, oc)
		synced = append(synced, oc.HasSynced)
	}
	c.runner = runner.New(runner.Config{
		Name: "materialize", Workers: opts.Workers, Sources: sources, Synced: synced,
		Pools: c.allPools, ResyncPeriod: opts.ResyncPeriod, BeforeResync: c.rejections.retryAll,
		Sync: func(ctx context.Context, pool string) (time.Duration, error) {
			if err := c.sync(ctx, pool); err != nil {
				return 0, err
			}
			c.metrics.lastSuccess.SetToCurrentTime()
			return 0, nil
		},
		Failed: func(pool string, retries int, err error) {
			c.metrics.syncs.WithLabelValues(string(resultError)).Inc()
			klog.ErrorS(err, "Syncing pool failed; retrying with backoff", "nodePool", klog.KRef("", pool), "retries", retries)
		},
		LogValues: []any{"forms", c.Forms()},
	})
	c.metrics = newControllerMetrics(c)
	return c, nil
}

// Forms are the forms the controller keeps, in the order it syncs them.
func (c *Controller) Forms() []Form {
	forms := make([]Form, 0, len(c.objects))
	for _, oc := range c.objects {
		forms = append(forms, oc.Form())
	}
	return forms
}

// allPools are every pool the source knows and every pool a managed object
// was made for, so gone pools' objects are deleted too.
func (c *Controller) allPools() []string {
	pools := c.pools.PoolNames()
	for _, oc := range c.objects {
		pools = append(pools, oc.pools()...)
	}
	return pools
}

// Run syncs every pool once the caches have synced, then each pool whose
// projection or objects change, and all of them every resync period (when
// objects that could not be written are tried again too), with the
// configured number of workers until ctx ends.
func (c *Controller) Run(ctx context.Context) { c.runner.Run(ctx) }

// WaitStopped returns once the controller does not run (or ctx ends).
func (c *Controller) WaitStopped(ctx context.Context) { c.runner.WaitStopped(ctx) }

// nodePoolRef stands for a NodePool in Events: all an Event needs of it.
func nodePoolRef(p *projection.Pool) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: appsv1beta2.SchemeGroupVersion.String(), Kind: "NodePool"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name(), UID: p.UID()},
	}
}

// sync makes one pool's objects match its projection, or deletes them when
// the pool is gone. Each form is synced on its own: a form that cannot be
// written keeps none of the others from being written. A transient failure
// of any form is returned, so the pool is retried with backoff; a permanent
// rejection is recorded and is not.
func (c *Controller) sync(ctx context.Context, pool string) error {
	start := time.Now()
	defer func() { c.metrics.syncDuration.Observe(time.Since(start).Seconds()) }()

	st, ok := c.pools.State(pool)
	if !ok {
		c.notices.forgetPool(pool)
		return c.deleteAll(ctx, pool)
	}
	ref := nodePoolRef(&st.Pool)
	// Each cause is warned of once while it lasts (an Event and a log
	// line), not at every sync and resync.
	unpublishable := noticeKey{pool: pool, cause: causeUnpublishable}
	if ue := st.Unpublishable; ue != nil {
		// Whatever was published for the pool before stays as it was.
		if c.notices.report(unpublishable, ue.Reason+": "+ue.Message) {
			c.recorder.Eventf(ref, corev1.EventTypeWarning, ue.Reason,
				"leaderhub cannot publish this pool (objects already published for it are kept as they were): %v", ue)
			klog.InfoS("A NodePool cannot be projected; keeping what was published for it", "nodePool", klog.KObj(ref), "err", ue)
		}
		if !st.Published {
			c.metrics.syncs.WithLabelValues(string(resultSkipped)).Inc()
			return nil
		}
	} else {
		c.notices.clear(unpublishable)
	}
	name, ns := v1alpha1.ObjectName(pool), c.opts.Projection.Namespace
	invalid := noticeKey{pool: pool, cause: causeInvalidLeaders}
	if len(st.Invalid) > 0 {
		reasons := make([]string, 0, len(st.Invalid))
		for _, l := range st.Invalid {
			reasons = append(reasons, l.String())
		}
		if msg := strings.Join(reasons, "; "); c.notices.report(invalid, msg) {
			c.recorder.Eventf(ref, corev1.EventTypeWarning, ReasonInvalidLeaderAddress,
				"%d leader entries left out of %s: %s", len(st.Invalid), name, msg)
		}
	} else {
		c.notices.clear(invalid)
	}

	result := resultUnchanged
	var errs []error
	for _, oc := range c.objects {
		r, err := c.syncForm(ctx, ref, oc, &st.Pool)
		if err != nil {
			objName := oc.kind.objectName(pool)
			c.recorder.Eventf(ref, corev1.EventTypeWarning, ReasonSyncFailed, "syncing %s %s/%s: %v", oc.Form(), ns, objName, err)
			errs = append(errs, fmt.Errorf("%s %s/%s: %w", oc.Form(), ns, objName, err))
			continue
		}
		if r != resultUnchanged {
			result = r
		}
	}
	if len(errs) > 0 {
		return utilerrors.NewAggregate(errs)
	}
	c.metrics.syncs.WithLabelValues(string(result)).Inc()
	if result != resultUnchanged {
		klog.V(2).InfoS("Synced pool", "nodePool", klog.KObj(ref), "result", result, "leaders", st.Pool.LeadersString())
	}
	return nil
}

// syncForm makes one form's object match the pool. The cache says whether the
// object exists and whether its owned fields differ; only then is the live
// object read, and written on a copy of what was read.
//
// An object the form cannot hold, or that kube-apiserver rejects as
// invalid, is a permanent rejection: its cause is recorded once (a Warning
// Event and a metric), the object is not sent again until the pool changes
// or the next resync, and it is not an error.
func (c *Controller) syncForm(ctx context.Context, ref *metav1.PartialObjectMetadata, oc *ObjectCache, p *projection.Pool) (syncResult, error) {
	k := oc.kind
	desired, ok := k.desired(p)
	if !ok {
		// The pool has no object of this form (an EndpointSlice of a family
		// it has no leader of): one that is left is removed.
		c.rejections.clear(rejectionKey{pool: ref.Name, form: k.form()})
		c.notices.clear(noticeKey{pool: ref.Name, cause: conflictCause(k.form())})
		removed, err := c.remove(ctx, oc, k.objectName(ref.Name))
		if err != nil || !removed {
			return resultUnchanged, err
		}
		return resultDeleted, nil
	}
	want := oc.digestOf(desired)
	key := rejectionKey{pool: ref.Name, form: k.form()}
	if reason, msg := k.check(desired); reason != "" {
		return c.reject(ref, key, desired.GetName(), want, reason, msg), nil
	}
	if c.rejections.holds(key, want) {
		return resultRejected, nil // until the pool changes or the next resync
	}
	result, err := c.write(ctx, ref, oc, desired, want)
	switch {
	case apierrors.IsInvalid(err):
		return c.reject(ref, key, desired.GetName(), want, ReasonObjectInvalid, err.Error()), nil
	case err != nil:
		return "", err
	}
	c.rejections.clear(key)
	if result != resultConflict {
		c.notices.clear(noticeKey{pool: ref.Name, cause: conflictCause(k.form())})
	}
	return result, nil
}

// write creates or updates one form's object when the cache says it differs
// from desired, whose digest is want.
func (c *Controller) write(ctx context.Context, ref *metav1.PartialObjectMetadata, oc *ObjectCache, desired metav1.Object, want digest) (syncResult, error) {
	k := oc.kind
	have, cached := oc.get(desired.GetName())
	if !cached {
		err := k.create(ctx, desired)
		if err == nil {
			c.metrics.writes.WithLabelValues(string(k.form()), "create").Inc()
			return resultCreated, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return "", err
		}
		existing, err := k.fetch(ctx, desired.GetName())
		if err != nil {
			return "", err
		}
		if managed(existing) {
			return "", errors.New("exists but is not in the cache yet")
		}
		return c.conflict(ref, k.form(), desired), nil
	}
	if have == want {
		return resultUnchanged, nil
	}
	live, err := k.fetch(ctx, desired.GetName())
	if err != nil {
		return "", err // deleted meanwhile: the delete event brings the pool back
	}
	if !managed(live) {
		return c.conflict(ref, k.form(), desired), nil
	}
	if oc.digestOf(live) == want {
		return resultUnchanged, nil // the cache was behind
	}
	if err := k.update(ctx, live, desired); err != nil {
		return "", err
	}
	c.metrics.writes.WithLabelValues(string(k.form()), "update").Inc()
	return resultUpdated, nil
}

// reject records that one form's object cannot be written for a pool as it
// is: the first time for this cause, with a Warning Event, a log line and
// the rejections metric; while the cause stays the same, silently.
func (c *Controller) reject(ref *metav1.PartialObjectMetadata, key rejectionKey, name string, want digest, reason, msg string) syncResult {
	if !c.rejections.record(key, rejection{digest: want, reason: reason, message: msg}) {
		return resultRejected
	}
	c.metrics.rejections.WithLabelValues(string(key.form), reason).Inc()
	c.recorder.Eventf(ref, corev1.EventTypeWarning, reason,
		"%s %s/%s cannot be written: %s; the pool's other forms, if any, are still written, and this one is tried again when the pool changes or at the next resync",
		key.form, c.opts.Projection.Namespace, name, msg)
	klog.InfoS("An object cannot be written for a pool; not retrying it until the pool changes", "nodePool", klog.KObj(ref),
		"form", key.form, "object", klog.KRef(c.opts.Projection.Namespace, name), "reason", reason, "detail", msg)
	return resultRejected
}

// conflict reports an object with the pool's name that leaderhub does not
// manage, and leaves it alone.
func (c *Controller) conflict(ref *metav1.PartialObjectMetadata, form Form, desired metav1.Object) syncResult {
	// Counted at every sync that finds it (LeaderHubConflicts fires while
	// it lasts), told once.
	c.metrics.conflicts.WithLabelValues(string(form)).Inc()
	if !c.notices.report(noticeKey{pool: ref.Name, cause: conflictCause(form)}, desired.GetNamespace()+"/"+desired.GetName()) {
		return resultConflict
	}
	c.recorder.Eventf(ref, corev1.EventTypeWarning, ReasonObjectConflict,
		"%s %s/%s exists and is not managed by leaderhub (no %s=%s label); leaving it untouched",
		form, desired.GetNamespace(), desired.GetName(), v1alpha1.LabelManagedBy, v1alpha1.ManagedByValue)
	klog.InfoS("Leaving a foreign object untouched", "form", form, "object", klog.KObj(desired))
	return resultConflict
}

// deleteAll deletes a gone pool's managed objects, read fresh so that an
// object someone else created meanwhile is left alone.
func (c *Controller) deleteAll(ctx context.Context, pool string) error {
	deleted := false
	for _, oc := range c.objects {
		c.rejections.clear(rejectionKey{pool: pool, form: oc.Form()})
		removed, err := c.remove(ctx, oc, oc.kind.objectName(pool))
		if err != nil {
			return err
		}
		deleted = deleted || removed
	}
	if deleted {
		c.metrics.syncs.WithLabelValues(string(resultDeleted)).Inc()
		klog.V(2).InfoS("Deleted the objects of a deleted pool", "nodePool", pool)
	} else {
		c.metrics.syncs.WithLabelValues(string(resultUnchanged)).Inc()
	}
	return nil
}

// remove deletes one form's object if the cache has it and it is still
// leaderhub's when read fresh; it reports whether it deleted it.
func (c *Controller) remove(ctx context.Context, oc *ObjectCache, name string) (bool, error) {
	if _, cached := oc.get(name); !cached {
		return false, nil
	}
	live, err := oc.kind.fetch(ctx, name)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !managed(live) {
		return false, nil
	}
	if err := oc.kind.delete(ctx, live); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return false, fmt.Errorf("deleting %s %s: %w", oc.Form(), name, err)
	}
	c.metrics.writes.WithLabelValues(string(oc.Form()), "delete").Inc()
	return true, nil
}

// poolTotals are what the pool gauges report.
type poolTotals struct {
	managed, withoutLeaders, invalidLeaders int
}

// totals counts, over the source's current states, the pools whose objects
// the controller keeps, those with leader election on but no valid leader
// (a pool with election off needs none), and the leader entries
// left out; all 0 while the controller does not run. Counting at scrape
// time keeps nothing per pool.
func (c *Controller) totals() poolTotals {
	var t poolTotals
	if !c.runner.Running() {
		return t
	}
	c.pools.EachState(func(st *projection.State) {
		if !st.Published {
			return
		}
		t.managed++
		if st.Pool.LeaderElection() && st.Pool.LeaderCount() == 0 {
			t.withoutLeaders++
		}
		t.invalidLeaders += len(st.Invalid)
	})
	return t
}
