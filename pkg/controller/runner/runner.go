package runner

import (
	"context"
	"sync"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/leaderhub/leaderhub/pkg/feed"
)

// Config is one controller's part of the skeleton.
type Config struct {
	// Name names the controller in logs and its queue in the workqueue
	// metrics (leaderhub_<Name>).
	Name    string
	Workers int
	// Sources tell the queue which pools changed.
	Sources []feed.Notifier
	// Synced must all be true before the first pool is synced.
	Synced []cache.InformerSynced
	// Pools lists every pool to sync at start and at each resync.
	Pools func() []string
	// ResyncPeriod is how often every pool is queued again; 0 never.
	ResyncPeriod time.Duration
	// BeforeResync, if set, runs before each resync queues the pools.
	BeforeResync func()
	// MaxQueued is how many pools may wait in the queue before the start
	// and the resyncs queue more; 0 is DefaultMaxQueued.
	MaxQueued int
	// Sync syncs one pool. A positive recheck queues it again after that
	// long; an error queues it again with backoff.
	Sync func(ctx context.Context, pool string) (recheck time.Duration, err error)
	// Failed counts and logs a failed sync; retries is how often the pool
	// has been retried before.
	Failed func(pool string, retries int, err error)
	// LogValues are key/value pairs added to the start log line.
	LogValues []any
}

// Runner runs one controller. It is built once; Run runs the controller
// and may be called again, one run at a time.
type Runner struct {
	cfg Config
	// turn holds a token while a run runs: a second Run waits for it, so a
	// controller lease regained while the last term's controllers are still
	// stopping runs them again once they have.
	turn chan struct{}
}

// DefaultMaxQueued is how many pools the start and the resyncs let wait in
// the queue. The queue's maps (the workqueue's set of queued names and its
// metrics' time each was queued) keep the size they once reached, so
// queuing every pool at once would keep them sized for every pool for
// good; and a pool that changes during a resync waits behind at most this
// many, not behind every pool.
const DefaultMaxQueued = 256

// New builds a runner; Workers below 1 are 1.
func New(cfg Config) *Runner {
	cfg.Workers = max(cfg.Workers, 1)
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	return &Runner{cfg: cfg, turn: make(chan struct{}, 1)}
}

// Running reports whether Run is running.
func (r *Runner) Running() bool { return len(r.turn) > 0 }

// WaitStopped returns once no run is running (at once if none is), or when
// ctx ends.
func (r *Runner) WaitStopped(ctx context.Context) {
	select {
	case r.turn <- struct{}{}:
		<-r.turn
	case <-ctx.Done():
	}
}

// Run syncs every pool once the sources have synced, then each pool a
// source names, and every pool each resync period, until ctx ends. It
// returns once the workers have finished the pools they hold. While another
// run runs, it first waits for that one to return.
func (r *Runner) Run(ctx context.Context) {
	defer utilruntime.HandleCrash()
	select {
	case r.turn <- struct{}{}:
	default:
		klog.InfoS("Waiting for the controller's previous run to stop", "controller", r.cfg.Name)
		select {
		case r.turn <- struct{}{}:
		case <-ctx.Done():
			return
		}
	}
	defer func() { <-r.turn }()
	if ctx.Err() != nil {
		return
	}
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "leaderhub_" + r.cfg.Name})
	defer queue.ShutDown()
	for _, src := range r.cfg.Sources {
		defer src.AddListener(queue.Add)()
	}
	klog.InfoS("Starting controller", append([]any{"controller", r.cfg.Name, "workers", r.cfg.Workers,
		"resyncPeriod", r.cfg.ResyncPeriod}, r.cfg.LogValues...)...)
	if !cache.WaitForNamedCacheSyncWithContext(klog.NewContext(ctx, klog.FromContext(ctx).WithName(r.cfg.Name)), r.cfg.Synced...) {
		return
	}
	// taken has a token each time a worker takes a pool off the queue:
	// a paced enqueueAll waits for it while the queue is full.
	taken := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() { r.enqueueAll(ctx, queue, taken) })
	if r.cfg.ResyncPeriod > 0 {
		wg.Go(func() { r.resync(ctx, func() { r.enqueueAll(ctx, queue, taken) }) })
	}
	r.work(ctx, queue, taken)
	wg.Wait()
	klog.InfoS("Stopped controller", "controller", r.cfg.Name)
}

// enqueueAll queues every pool, never more than MaxQueued waiting at once:
// while the queue is full it waits for a worker to take one, until ctx
// ends.
func (r *Runner) enqueueAll(ctx context.Context, queue workqueue.TypedRateLimitingInterface[string], taken <-chan struct{}) {
	for _, pool := range r.cfg.Pools() {
		for queue.Len() >= r.cfg.MaxQueued {
			select {
			case <-taken:
			case <-ctx.Done():
				return
			}
		}
		queue.Add(pool)
	}
}

// resync queues every pool each resync period, the first time one period
// after the start, until ctx ends.
func (r *Runner) resync(ctx context.Context, enqueueAll func()) {
	ticker := time.NewTicker(r.cfg.ResyncPeriod)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if r.cfg.BeforeResync != nil {
				r.cfg.BeforeResync()
			}
			resyncs.WithLabelValues(r.cfg.Name).Inc()
			enqueueAll()
		}
	}
}

// work runs the workers until ctx ends. Each takes pools off the queue
// until it shuts down, and is started again a second later should it stop
// while ctx lasts. When ctx ends, the queue is shut down and work waits for
// the workers to finish the pools they hold.
func (r *Runner) work(ctx context.Context, queue workqueue.TypedRateLimitingInterface[string], taken chan<- struct{}) {
	var wg sync.WaitGroup
	for range r.cfg.Workers {
		wg.Go(func() {
			wait.UntilWithContext(ctx, func(ctx context.Context) {
				for r.processNext(ctx, queue, taken) {
				}
			}, time.Second)
		})
	}
	<-ctx.Done()
	queue.ShutDown()
	wg.Wait()
}

func (r *Runner) processNext(ctx context.Context, queue workqueue.TypedRateLimitingInterface[string], taken chan<- struct{}) bool {
	pool, quit := queue.Get()
	if quit {
		return false
	}
	select {
	case taken <- struct{}{}:
	default:
	}
	defer queue.Done(pool)
	recheck, err := r.cfg.Sync(ctx, pool)
	if err != nil {
		r.cfg.Failed(pool, queue.NumRequeues(pool), err)
		queue.AddRateLimited(pool)
		return true
	}
	queue.Forget(pool)
	if recheck > 0 {
		queue.AddAfter(pool, recheck)
	}
	return true
}
