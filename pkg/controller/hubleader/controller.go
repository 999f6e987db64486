package hubleader

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/controller/runner"
	"github.com/leaderhub/leaderhub/pkg/election"
	"github.com/leaderhub/leaderhub/pkg/feed"
)

// FieldManager names the elector in the NodePool's managedFields.
const FieldManager = "leaderhub-hubleader"

// Source is what the elector reads: the election tracker, which holds the
// NodePools (from the view's watch) and the Node cache, and tells its
// listeners of every pool it judges again.
type Source interface {
	feed.Notifier
	Started() bool
	Pool(name string) (*election.Pool, bool)
	PoolNames() []string
	Node(name string) (*election.Node, bool)
	Members(pool string) []election.Node
}

var _ Source = &election.Tracker{}

// StatusPatcher applies a JSON merge patch to a NodePool's status
// subresource and returns the NodePool it wrote.
type StatusPatcher interface {
	PatchStatus(ctx context.Context, name string, patch []byte) (*appsv1beta2.NodePool, error)
}

// Options configure the elector.
type Options struct {
	Workers int
	// Grace is how long a leader whose Node is not Ready keeps its slot
	// (--leader-grace-period).
	Grace time.Duration
	// Policy is how pools that lose their cloud link are treated
	// (--pool-disruption-threshold, --pool-recovery-grace-period).
	Policy election.Policy
	// Settle is how long the elector waits, once it would replace a leader
	// for being NotReady, before it does: Nodes that lose their link
	// together are marked NotReady one by one within a few hundred
	// milliseconds (the node lifecycle controller updates them in
	// parallel), and a pool that turns out to be cut off keeps its leaders.
	// 0 does not wait.
	Settle time.Duration
	Clock  clock.Clock
}

// DefaultSettle is the Settle leaderhub runs with.
const DefaultSettle = 300 * time.Millisecond

// Controller is the elector. It is built once; Run runs it while this
// replica holds the controller lease, and may be called again.
type Controller struct {
	opts     Options
	source   Source
	patcher  StatusPatcher
	recorder record.EventRecorder
	metrics  *controllerMetrics
	runner   *runner.Runner

	mu sync.Mutex
	// written is what the elector last wrote to each pool in this lease
	// term, to tell its own writes from another writer's.
	written map[string]writtenLeaders
	// settling is when the elector first would have replaced a pool's
	// NotReady leader, while it waits Settle.
	settling map[string]time.Time
}

type writtenLeaders struct {
	uid             types.UID
	resourceVersion uint64
	leaders         []appsv1beta2.Leader
}

// New builds the elector.
func New(source Source, patcher StatusPatcher, recorder record.EventRecorder, opts Options) *Controller {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Policy == (election.Policy{}) {
		opts.Policy = election.DefaultPolicy
	}
	c := &Controller{opts: opts, source: source, patcher: patcher, recorder: recorder, written: map[string]writtenLeaders{},
		settling: map[string]time.Time{}}
	c.runner = runner.New(runner.Config{
		Name: "hubleader", Workers: opts.Workers, Sources: []feed.Notifier{source},
		Synced: []cache.InformerSynced{source.Started}, Pools: source.PoolNames,
		Sync: c.Sync, Failed: c.failed, LogValues: []any{"leaderGracePeriod", opts.Grace,
			"poolDisruptionThreshold", opts.Policy.DisruptionThreshold, "poolRecoveryGracePeriod", opts.Policy.RecoveryGrace},
	})
	c.metrics = newControllerMetrics(c)
	return c
}

// Run elects until ctx ends. What an earlier run wrote is forgotten: while
// another replica held the lease, it wrote too.
func (c *Controller) Run(ctx context.Context) {
	c.mu.Lock()
	c.written = map[string]writtenLeaders{}
	c.mu.Unlock()
	c.runner.Run(ctx)
}

// WaitStopped returns once the controller does not run (or ctx ends).
func (c *Controller) WaitStopped(ctx context.Context) { c.runner.WaitStopped(ctx) }

// failed counts and logs a failed election; the runner retries it with
// backoff. A Conflict is the NodePool changing under the elector: routine.
func (c *Controller) failed(pool string, retries int, err error) {
	if apierrors.IsConflict(err) {
		c.metrics.syncs.WithLabelValues("conflict").Inc()
		klog.V(2).InfoS("NodePool changed since it was read; electing again", "nodePool", klog.KRef("", pool))
		return
	}
	c.metrics.syncs.WithLabelValues("error").Inc()
	klog.ErrorS(err, "Electing leaders failed; retrying with backoff", "nodePool", klog.KRef("", pool), "retries", retries)
}

// Sync elects one pool's leaders and writes them if they or the condition
// changed. It returns when the pool must be judged again (a leader in its
// grace period), and a Conflict when the NodePool changed under it.
func (c *Controller) Sync(ctx context.Context, name string) (time.Duration, error) {
	p, ok := c.source.Pool(name)
	if !ok {
		c.mu.Lock()
		delete(c.written, name)
		delete(c.settling, name)
		c.mu.Unlock()
		return 0, nil
	}
	if c.behind(p) {
		// The cache has not seen the elector's own last write yet; its
		// event brings the pool back.
		c.metrics.syncs.WithLabelValues("behind").Inc()
		return 0, nil
	}
	out := Elect(p, Inputs{
		Node: func(n string) *election.Node {
			node, _ := c.source.Node(n)
			return node
		},
		Members: c.source.Members(name), Now: c.opts.Clock.Now(), Grace: c.opts.Grace, Policy: c.opts.Policy,
	})
	if wait := c.settle(name, &out); wait > 0 {
		c.metrics.syncs.WithLabelValues("settling").Inc()
		return wait, nil
	}
	cur := p.Condition(appsv1beta2.LeaderStatus)
	leadersSame := slices.Equal(p.Leaders, out.Leaders)
	if !p.Enabled && len(p.Leaders) == 0 && (cur == nil || sameCondition(cur, &out.Condition)) {
		// A pool that never had election: nothing of the elector's on it.
		c.metrics.syncs.WithLabelValues("unchanged").Inc()
		return 0, nil
	}
	if leadersSame && cur != nil && sameCondition(cur, &out.Condition) {
		c.metrics.syncs.WithLabelValues("unchanged").Inc()
		return out.RecheckAfter, nil
	}
	now := metav1.NewTime(c.opts.Clock.Now().Truncate(time.Second))
	patch, err := statusPatch(p, &out, !leadersSame, now)
	if err != nil {
		return 0, err
	}
	written, err := c.patcher.PatchStatus(ctx, name, patch)
	if err != nil {
		return 0, fmt.Errorf("writing NodePool %s status: %w", name, err)
	}
	c.metrics.writes.Inc()
	c.metrics.syncs.WithLabelValues("written").Inc()
	rv, _ := strconv.ParseUint(written.ResourceVersion, 10, 64)
	c.mu.Lock()
	c.written[name] = writtenLeaders{uid: written.UID, resourceVersion: rv, leaders: out.Leaders}
	c.mu.Unlock()
	c.record(written, p, &out, cur)
	return out.RecheckAfter, nil
}

// settle returns how much longer to wait before an outcome that removes a
// leader for being NotReady is written; 0 to write it now.
func (c *Controller) settle(pool string, out *Outcome) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opts.Settle <= 0 || !slices.ContainsFunc(out.Removed, func(name string) bool {
		n, ok := c.source.Node(name)
		return ok && !n.Ready && n.Pool == pool
	}) {
		delete(c.settling, pool)
		return 0
	}
	now := c.opts.Clock.Now()
	first, ok := c.settling[pool]
	if !ok {
		c.settling[pool], first = now, now
	}
	if waited := now.Sub(first); waited < c.opts.Settle {
		return c.opts.Settle - waited
	}
	delete(c.settling, pool)
	return 0
}

// behind reports whether p is older than the elector's last write to it,
// and warns when p's leaders were written by someone else since.
func (c *Controller) behind(p *election.Pool) bool {
	rv, err := strconv.ParseUint(p.ResourceVersion, 10, 64)
	if err != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.written[p.Name]
	switch {
	case !ok:
		return false
	case w.uid != p.UID:
		// The pool was deleted and created again: nothing of it was
		// written by this elector.
		delete(c.written, p.Name)
		return false
	case rv < w.resourceVersion:
		return true
	case rv > w.resourceVersion && !slices.Equal(p.Leaders, w.leaders):
		klog.InfoS("Warning: the NodePool's leaders were changed by a writer other than leaderhub's elector; "+
			"is yurt-manager's hubleader controller still on (--controllers=-hubleader on yurt-manager)?",
			"nodePool", klog.KRef("", p.Name), "resourceVersion", p.ResourceVersion,
			"leaders", leadersString(p.Leaders), "electorWrote", leadersString(w.leaders))
		c.metrics.foreignWrites.Inc()
		c.written[p.Name] = writtenLeaders{uid: p.UID, resourceVersion: rv, leaders: p.Leaders}
	}
	return false
}
