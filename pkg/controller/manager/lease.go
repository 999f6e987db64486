package manager

import (
	"context"
	"fmt"
	"os"
	"sync"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	componentbaseconfig "k8s.io/component-base/config"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/leaderhub/leaderhub/pkg/instancemetrics"
)

// newLease builds the controller lease's elector configuration: while this
// replica holds the lease, run runs the controllers; the lease is released
// when they stop (ReleaseOnCancel).
func newLease(kube kubernetes.Interface, cfg componentbaseconfig.LeaderElectionConfiguration,
	run func(ctx context.Context)) (*leaderelection.LeaderElectionConfig, *observedLock, error) {
	hostname, _ := os.Hostname()
	identity := fmt.Sprintf("%s_%d_%s", hostname, os.Getpid(), uuid.NewUUID())
	lock, err := resourcelock.New(cfg.ResourceLock, cfg.ResourceNamespace, cfg.ResourceName,
		kube.CoreV1(), kube.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: identity})
	if err != nil {
		return nil, nil, fmt.Errorf("controller lease: %w", err)
	}
	observed := &observedLock{Interface: lock}
	lease := &leaderelection.LeaderElectionConfig{
		Lock:            observed,
		Name:            "leaderhub-controller",
		LeaseDuration:   cfg.LeaseDuration.Duration,
		RenewDeadline:   cfg.RenewDeadline.Duration,
		RetryPeriod:     cfg.RetryPeriod.Duration,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				klog.InfoS("Holding the controller lease; running controllers", "identity", identity)
				run(ctx)
			},
			OnStoppedLeading: func() {
				klog.InfoS("Lost the controller lease; controllers stopped", "identity", identity)
			},
			OnNewLeader: func(holder string) {
				if holder != identity {
					klog.InfoS("Another replica holds the controller lease and runs the controllers", "holder", holder)
				}
			},
		},
	}
	// client-go checks the configuration (a lease longer than the renew
	// deadline, and so on): a bad one stops the process here, not later.
	if _, err := leaderelection.NewLeaderElector(*lease); err != nil {
		return nil, nil, fmt.Errorf("controller lease (--leader-elect-*): %w", err)
	}
	return lease, observed, nil
}

// observedLock is a resource lock that remembers whether its last use
// failed, for leaderhub_controller_lease_failing. A missing lease (before
// the first replica creates it) and a lost race are not failures.
//
// It is not a readiness check: every replica reads the same Lease, so one
// RBAC or API error would make all of them unready, and the APIService with
// them, while the view needs no lease. The NoControllerLeader alert and
// this gauge report it instead.
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
		if l.err != nil {
			klog.InfoS("The controller lease can be read and written again", "lease", l.Describe())
		}
		l.err = nil
	default:
		if l.err == nil {
			klog.ErrorS(err, "Cannot read or write the controller lease; this replica serves the view but runs no controller until it can",
				"lease", l.Describe())
		}
		l.err = err
	}
	return err
}

// metrics is the gauge that reports the last failure.
func (l *observedLock) metrics() *instancemetrics.Gauges {
	return instancemetrics.NewGauges(instancemetrics.Gauge{Namespace: "leaderhub", Subsystem: "controller", Name: "lease_failing",
		Help: "1 while this replica's last read or write of the controller Lease failed (RBAC, API errors); 0 otherwise.",
		Value: func() float64 {
			if l.lastError() != nil {
				return 1
			}
			return 0
		}})
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

// releaseWatch watches the controller Lease for its holder releasing it (a
// replica shutting down releases it; client-go clears the holder), so that
// a replica waiting for it tries at once instead of at its next retry
// (--leader-elect-retry-period): a rolling restart hands the controllers
// over in about one round trip. A holder that dies without releasing is
// replaced after the lease duration, as before.
type releaseWatch struct {
	informer cache.Controller
	released chan struct{}
}

func newReleaseWatch(kube kubernetes.Interface, cfg componentbaseconfig.LeaderElectionConfiguration) *releaseWatch {
	r := &releaseWatch{released: make(chan struct{}, 1)}
	holder := func(obj any) string {
		if l, ok := obj.(*coordinationv1.Lease); ok {
			return ptr.Deref(l.Spec.HolderIdentity, "")
		}
		return ""
	}
	notify := func() {
		select {
		case r.released <- struct{}{}:
		default: // one pending notice is enough
		}
	}
	_, r.informer = cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: cache.NewListWatchFromClient(kube.CoordinationV1().RESTClient(), "leases", cfg.ResourceNamespace,
			fields.OneTermEqualSelector("metadata.name", cfg.ResourceName)),
		ObjectType: &coordinationv1.Lease{},
		Handler: cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(old, cur any) {
				if holder(old) != "" && holder(cur) == "" {
					notify()
				}
			},
			DeleteFunc: func(any) { notify() },
		},
	})
	return r
}
