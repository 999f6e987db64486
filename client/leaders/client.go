package leaders

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/client/generated/clientset/versioned"
)

// Options configure a Client.
type Options struct {
	// Config reaches kube-apiserver, with the node's credentials.
	Config *rest.Config
	// Pool is the NodePool to follow; when empty, the pool is read from
	// NodeName's apps.openyurt.io/nodepool label.
	Pool     string
	NodeName string
	// Namespace holds the leader-hub objects (leaderhub's --namespace);
	// kube-system when empty.
	Namespace string
	// LeaderPort is the port in leader URLs when the source carries none
	// (the ConfigMap); 10269 when 0.
	LeaderPort int32
	// Sources are tried in order, best first; DefaultSources when empty.
	Sources []Source
	// ProbeInterval is how often a better source than the one in use is
	// tried (plus up to 20% jitter, doubling while they fail, up to
	// MaxProbeInterval); 30s and 5m when 0.
	ProbeInterval, MaxProbeInterval time.Duration
	// CacheFile, when set, keeps the last Config across restarts: written
	// on every change (atomically), served at start, marked stale, until a
	// source answers.
	CacheFile string
}

// Client follows one pool's Config. Run it; read Current, or receive
// Changes.
type Client struct {
	opts    Options
	view    versioned.Interface
	kube    kubernetes.Interface
	changes chan Config

	mu      sync.Mutex
	current Config
	has     bool
	// err is what Run returned, once it has.
	err error
	// reading is the source the Config is read from now; "" when none
	// answers.
	reading Source
	metrics *clientMetrics

	// nodePool reads the Node's pool label ("" without one). Tests
	// replace it.
	nodePool func(ctx context.Context) (string, error)
	// recheckPool asks for the Node's pool label to be read again (the
	// view refused the pool: the Node may have moved).
	recheckPool chan struct{}

	// backoff waits before the next round through the sources, about base
	// (jittered); false when ctx ended. Tests replace it to see the bases.
	backoff func(ctx context.Context, base time.Duration) bool
}

// New builds a Client; nothing is read until Run.
func New(opts Options) (*Client, error) {
	if opts.Config == nil {
		return nil, errors.New("leaders: Options.Config is required")
	}
	if opts.Pool == "" && opts.NodeName == "" {
		return nil, errors.New("leaders: Options.Pool or Options.NodeName is required")
	}
	if opts.Namespace == "" {
		opts.Namespace = metav1.NamespaceSystem
	}
	if opts.LeaderPort == 0 {
		opts.LeaderPort = v1alpha1.DefaultLeaderHubPort
	}
	if len(opts.Sources) == 0 {
		opts.Sources = DefaultSources
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = 30 * time.Second
	}
	if opts.MaxProbeInterval < opts.ProbeInterval {
		opts.MaxProbeInterval = max(5*time.Minute, opts.ProbeInterval)
	}
	cfg := rest.CopyConfig(opts.Config)
	cfg.WarningHandler = rest.NoWarnings{} // core/v1 Endpoints are deprecated; the client reads them only as a fallback
	// Protobuf for every source: the fewest bytes over the cloud-edge link.
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	view, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	c := &Client{opts: opts, view: view, kube: kube, changes: make(chan Config, 1), backoff: jitteredSleep,
		recheckPool: make(chan struct{}, 1), metrics: newClientMetrics()}
	if opts.NodeName != "" {
		// The Node's metadata only: a whole Node is large and its status
		// churns.
		nodes, err := metadata.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		c.nodePool = func(ctx context.Context) (string, error) {
			m, err := nodes.Resource(corev1.SchemeGroupVersion.WithResource("nodes")).Get(ctx, opts.NodeName, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			return m.Labels[v1alpha1.LabelNodePool], nil
		}
	}
	return c, nil
}

// Changes delivers every new Config: at start the cached one (stale), then
// each one whose content differs from the last delivered (and the first a
// source confirms after the cached one). A slow receiver misses
// intermediate Configs, never the newest. It is closed when Run returns;
// Err then says why.
func (c *Client) Changes() <-chan Config { return c.changes }

// Err is what Run returned: nil before it has, and when its context ended.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Current is the last Config, with where it was read; false before any.
func (c *Client) Current() (Config, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current, c.has
}

// Run follows the pool until ctx ends, and closes Changes. Call it once.
// With Options.NodeName, it follows the Node's pool label: it waits for the
// label, and switches pools when the label changes.
func (c *Client) Run(ctx context.Context) (err error) {
	defer func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.changes)
	}()
	if cached, err := readCache(c.opts.CacheFile); err != nil {
		klog.ErrorS(err, "Ignoring the leader cache file", "file", c.opts.CacheFile)
	} else if cached != nil && (c.opts.Pool == "" || cached.Pool == c.opts.Pool) {
		cached.Stale, cached.Source = true, SourceCache
		c.mu.Lock()
		c.current, c.has = *cached, true
		c.mu.Unlock()
		c.deliver(*cached)
		klog.InfoS("Serving the cached leaders until a source answers", "pool", cached.Pool, "leaders", len(cached.Leaders))
	}
	if len(newSources(c.opts.Sources, c.view, c.kube, c.opts.Namespace, "")) == 0 {
		return fmt.Errorf("leaders: no known source in %v", c.opts.Sources)
	}
	pool := c.opts.Pool
	for ctx.Err() == nil {
		if c.opts.Pool == "" {
			if pool = c.waitPool(ctx, pool); pool == "" {
				return nil // ctx ended
			}
		}
		poolCtx, cancel := context.WithCancel(ctx)
		if c.opts.Pool == "" {
			go c.watchPool(poolCtx, pool, cancel)
		}
		c.followPool(poolCtx, pool)
		cancel()
	}
	return nil
}

// followPool follows one pool's sources until ctx ends.
func (c *Client) followPool(ctx context.Context, pool string) {
	sources := newSources(c.opts.Sources, c.view, c.kube, c.opts.Namespace, pool)
	retry := c.opts.ProbeInterval
	active := 0
	for ctx.Err() == nil {
		if active == len(sources) {
			c.setReading("")
			// Every source failed. The last Config stands: only the view
			// says a pool has no object, and a form without the pool's
			// object may simply not be materialized (or not be readable
			// yet: kube-apiserver answers before its caches are warm).
			if !c.backoff(ctx, retry) {
				break
			}
			retry = min(2*retry, c.opts.MaxProbeInterval)
			active = 0
			continue
		}
		src := sources[active]
		runCtx, cancel := context.WithCancel(ctx)
		better := make(chan int, 1)
		if active > 0 {
			go c.probeBetter(runCtx, sources[:active], better)
		}
		failed := make(chan error, 1)
		var answered atomic.Bool // the source delivered a Config before it failed
		go func() {
			failed <- follow(runCtx, src, c.opts.LeaderPort, func(cfg Config) {
				answered.Store(true)
				c.update(pool, cfg)
			})
		}()
		select {
		case i := <-better:
			cancel()
			if err := <-failed; err != nil { // it ends with the cancel, nil unless it failed just then
				klog.V(2).InfoS("The leader source failed as a better one answered", "source", src.name, "reason", describe(err))
			}
			klog.InfoS("A better leader source answers; switching to it", "pool", pool, "from", src.name, "to", sources[i].name)
			active, retry = i, c.opts.ProbeInterval
		case err := <-failed:
			cancel()
			if ctx.Err() != nil {
				break
			}
			if answered.Load() {
				// It worked for a while: the next round of failures starts
				// its backoff afresh.
				retry = c.opts.ProbeInterval
			}
			next := "none"
			if active+1 < len(sources) {
				next = string(sources[active+1].name)
			}
			klog.InfoS("Leader source unavailable; moving down", "pool", pool, "source", src.name, "reason", describe(err), "next", next)
			if src.name == SourceView && apierrors.IsForbidden(err) {
				// The node authorizer refuses the view of another pool's
				// object: the Node may have moved.
				select {
				case c.recheckPool <- struct{}{}:
				default:
				}
			}
			active++
		}
	}
}

// probeBetter tries the better sources, best first, with jitter and
// backoff, and sends the index of the first that answers.
func (c *Client) probeBetter(ctx context.Context, better []*source, found chan<- int) {
	interval := c.opts.ProbeInterval
	for sleep(ctx, wait.Jitter(interval, 0.2)) {
		for i, src := range better {
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := probe(pctx, src)
			cancel()
			if err == nil {
				found <- i
				return
			}
		}
		interval = min(2*interval, c.opts.MaxProbeInterval)
	}
}

// update records a Config read from a source and delivers it if its
// content is new, or confirms the cached one.
func (c *Client) update(pool string, cfg Config) {
	cfg.Pool = pool
	c.mu.Lock()
	changed := !c.has || c.current.Stale || !c.current.SameContent(&cfg)
	c.current, c.has = cfg, true
	c.mu.Unlock()
	c.setReading(cfg.Source)
	c.metrics.lastUpdate.SetToCurrentTime()
	c.metrics.stale.Set(0)
	if !changed {
		return
	}
	klog.V(2).InfoS("Leaders changed", "pool", pool, "source", cfg.Source, "leaders", len(cfg.Leaders), "exists", cfg.Exists)
	if err := writeCache(c.opts.CacheFile, &cfg); err != nil {
		klog.ErrorS(err, "Cannot write the leader cache file", "file", c.opts.CacheFile)
	}
	c.deliver(cfg)
}

// setReading records the source the Config is read from ("" for none).
func (c *Client) setReading(src Source) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.metrics.inUse(c.reading, src)
	c.reading = src
}

// deliver sends cfg, replacing an undelivered older one.
func (c *Client) deliver(cfg Config) {
	c.metrics.deliveries.Inc()
	for {
		select {
		case c.changes <- cfg:
			return
		default:
		}
		select {
		case <-c.changes:
		default:
		}
	}
}

// waitPool reads the Node's pool label until it names a pool other than
// current (any pool when current is empty), with backoff; "" when ctx
// ends. A Node without the label yet is waited for; the Config already
// known (cached) is served meanwhile.
func (c *Client) waitPool(ctx context.Context, current string) string {
	interval := c.opts.ProbeInterval / 4
	for {
		pool, err := c.nodePool(ctx)
		switch {
		case err != nil:
			klog.V(2).InfoS("Cannot read the node's pool yet", "node", c.opts.NodeName, "err", err)
		case pool == "":
			klog.InfoS("The node has no pool label yet; waiting for it", "node", c.opts.NodeName, "label", v1alpha1.LabelNodePool)
		case pool != current:
			return pool
		}
		if !c.backoff(ctx, interval) {
			return ""
		}
		interval = min(2*interval, c.opts.MaxProbeInterval)
	}
}

// watchPool reads the Node's pool label every MaxProbeInterval, and when
// the view refuses the pool, and cancels the pool's following when the
// label names another pool. A label that disappears changes nothing: the
// pool's leaders are what the node knows.
func (c *Client) watchPool(ctx context.Context, pool string, moved context.CancelFunc) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.recheckPool:
		case <-time.After(wait.Jitter(c.opts.MaxProbeInterval, 0.2)):
		}
		now, err := c.nodePool(ctx)
		if err != nil || now == "" || now == pool {
			continue
		}
		klog.InfoS("The node moved to another pool; following it", "node", c.opts.NodeName, "from", pool, "to", now)
		moved()
		return
	}
}

// jitteredSleep sleeps base plus up to 20% jitter, or until ctx ends (false).
func jitteredSleep(ctx context.Context, base time.Duration) bool {
	return sleep(ctx, wait.Jitter(base, 0.2))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
