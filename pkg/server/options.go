package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	cliflag "k8s.io/component-base/cli/flag"
	basecompatibility "k8s.io/component-base/compatibility"
	componentbaseconfig "k8s.io/component-base/config"
	componentbaseoptions "k8s.io/component-base/config/options"
	logsapi "k8s.io/component-base/logs/api/v1"
	baseversion "k8s.io/component-base/version"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/controller/manager"
	"github.com/leaderhub/leaderhub/pkg/controller/materialize"
	"github.com/leaderhub/leaderhub/pkg/election"
	generatedopenapi "github.com/leaderhub/leaderhub/pkg/generated/openapi"
	"github.com/leaderhub/leaderhub/pkg/registry/leaderhub/viewstore"
)

func init() {
	// Logging options consult these features (contextual logging and so on).
	utilruntime.Must(logsapi.AddFeatureGates(utilfeature.DefaultMutableFeatureGate))
}

// Options are everything leaderhub-apiserver can be told on its command line.
type Options struct {
	Recommended *genericoptions.RecommendedOptions
	Logs        *logsapi.LoggingConfiguration
	// ServerRun holds k8s.io/apiserver's graceful-termination options
	// (--shutdown-delay-duration, --shutdown-send-retry-after,
	// --shutdown-watch-termination-grace-period); its other fields are
	// unused.
	ServerRun *genericoptions.ServerRunOptions

	// Namespace is where every LeaderHub lives.
	Namespace string
	// LeaderHubPort is the port leader YurtHubs serve on, published in subsets.
	LeaderHubPort int32

	BookmarkInterval time.Duration
	WatcherBuffer    int
	HistorySize      int

	// AuthorizeNodes narrows edge nodes to their own pool's LeaderHub.
	AuthorizeNodes bool

	// KubeAPIQPS and KubeAPIBurst limit leaderhub's own requests to kube-apiserver.
	KubeAPIQPS   float32
	KubeAPIBurst int

	Controllers       []string
	Materialize       []string
	ControllerWorkers int
	ControllerResync  time.Duration
	// ControllerLease is the Lease under which one replica at a time runs
	// the controllers (--leader-elect-*, component-base's flags).
	ControllerLease componentbaseconfig.LeaderElectionConfiguration

	// ElectionDeadline is how long a pool's hub-leader election may take and
	// still count as succeeded.
	ElectionDeadline time.Duration
	// LeaderGracePeriod is how long the elector keeps a leader whose Node is
	// not Ready.
	LeaderGracePeriod time.Duration
	// PoolDisruptionThreshold is the share of a pool's Nodes that must be
	// NotReady for the pool to count as cut off from the cloud.
	PoolDisruptionThreshold float64
	// PoolRecoveryGracePeriod is how long a leader kept through a pool's
	// outage has, once the pool is back, to report Ready again.
	PoolRecoveryGracePeriod time.Duration

	// validated is set by a Validate that found nothing wrong; Config and
	// Run need it.
	validated bool
	// parsed is what Validate made of --controllers and --materialize.
	parsed parsedControllers
}

// parsedControllers are --controllers and --materialize as Validate parsed
// them, once.
type parsedControllers struct {
	materialize, hubLeader bool
	forms                  []materialize.Form
}

// NewOptions returns the defaults: no etcd (the view is computed), no
// admission (nothing is written), and no priority-and-fairness of its own
// (kube-apiserver applies it before proxying).
func NewOptions() *Options {
	o := &Options{
		Recommended:      genericoptions.NewRecommendedOptions("", nil),
		Logs:             logsapi.NewLoggingConfiguration(),
		ServerRun:        genericoptions.NewServerRunOptions(),
		Namespace:        "kube-system",
		LeaderHubPort:    v1alpha1.DefaultLeaderHubPort,
		BookmarkInterval: viewstore.DefaultBookmarkInterval,
		WatcherBuffer:    viewstore.DefaultWatcherBuffer,
		HistorySize:      viewstore.DefaultHistorySize,

		AuthorizeNodes:    true,
		KubeAPIQPS:        50,
		KubeAPIBurst:      100,
		Controllers:       []string{"*"},
		Materialize:       []string{string(materialize.FormEndpoints)},
		ControllerWorkers: 4,
		ControllerResync:  10 * time.Minute,
		ElectionDeadline:  60 * time.Second,

		PoolDisruptionThreshold: election.DefaultDisruptionThreshold,
		PoolRecoveryGracePeriod: election.DefaultRecoveryGrace,
		ControllerLease: componentbaseconfig.LeaderElectionConfiguration{
			LeaderElect:   true,
			LeaseDuration: metav1.Duration{Duration: 15 * time.Second},
			RenewDeadline: metav1.Duration{Duration: 10 * time.Second},
			RetryPeriod:   metav1.Duration{Duration: 2 * time.Second},
			ResourceLock:  resourcelock.LeasesResourceLock,
			ResourceName:  "leaderhub-controller",
		},
	}
	o.Recommended.Etcd = nil
	o.Recommended.Admission = nil
	o.Recommended.Features.EnablePriorityAndFairness = false
	o.Recommended.SecureServing.BindPort = 8443
	// Not k8s.io/apiserver's ./apiserver.local.config/certificates: a
	// self-signed pair, when neither --tls-cert-file nor --cert-dir is set,
	// goes to a temporary directory (Config), never the working directory.
	o.Recommended.SecureServing.ServerCert.CertDirectory = ""
	// kube-aggregator proxies many watches over one HTTP/2 connection; Go's
	// default of 250 streams per connection is too few (kube-apiserver: 1000).
	o.Recommended.SecureServing.HTTP2MaxStreamsPerConnection = 1000
	return o
}

// shutdownFlags are the graceful-termination flags of ServerRunOptions that
// leaderhub-apiserver takes.
var shutdownFlags = []string{"shutdown-delay-duration", "shutdown-send-retry-after", "shutdown-watch-termination-grace-period"}

// Flags returns the flags in named groups, for a sectioned --help.
func (o *Options) Flags() cliflag.NamedFlagSets {
	var fss cliflag.NamedFlagSets
	fs := fss.FlagSet("leaderhub")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "Namespace of every LeaderHub (and materialized object); other namespaces list empty.")
	fs.Int32Var(&o.LeaderHubPort, "leader-hub-port", o.LeaderHubPort, "Port leader YurtHubs serve on, published as the https port of each LeaderHub's subset.")
	fs.DurationVar(&o.BookmarkInterval, "watch-bookmark-interval", o.BookmarkInterval, "How often watchers that allow bookmarks get one carrying the newest resource version.")
	fs.IntVar(&o.WatcherBuffer, "watch-buffer", o.WatcherBuffer, "Events that may wait for one watcher before it is dropped as too slow.")
	fs.IntVar(&o.HistorySize, "watch-history", o.HistorySize, "Events kept so watches can resume from a recent resourceVersion.")

	cs := fss.FlagSet("controllers")
	cs.StringSliceVar(&o.Controllers, "controllers", o.Controllers, fmt.Sprintf(
		"Controllers to run: '*' for all that are on by default, 'name' to enable, '-name' to disable. Known: %s. "+
			"Off by default: %s (so '*,%s' runs all).", strings.Join(manager.KnownControllers, ", "),
		strings.Join(manager.OffByDefault, ", "), strings.Join(manager.OffByDefault, ",")))
	cs.StringSliceVar(&o.Materialize, "materialize", o.Materialize, "Forms the materialize controller keeps for each NodePool: endpoints, configmap (the format upstream YurtHub reads), "+
		"endpointslice (discovery.k8s.io/v1, one per address family, headless).")
	cs.IntVar(&o.ControllerWorkers, "controller-workers", o.ControllerWorkers, "Pools synced at once.")
	cs.DurationVar(&o.ControllerResync, "controller-resync-period", o.ControllerResync, "How often every pool is checked again, whether or not anything changed.")
	bindControllerLeaseFlags(&o.ControllerLease, fss.FlagSet("controller lease"))

	es := fss.FlagSet("hub-leader election")
	es.DurationVar(&o.ElectionDeadline, "election-deadline", o.ElectionDeadline,
		"How long a pool's hub-leader election may take and still count as succeeded in leaderhub_elections_total "+
			"(from the moment the pool needs leaders to the moment it has as many valid ones as it can).")
	es.DurationVar(&o.LeaderGracePeriod, "leader-grace-period", o.LeaderGracePeriod,
		"How long the hubleader elector keeps a leader whose Node is not Ready, to ride out short NotReady blips; 0 replaces it at once.")
	es.Float64Var(&o.PoolDisruptionThreshold, "pool-disruption-threshold", o.PoolDisruptionThreshold,
		"Share of a NodePool's Nodes (0 < x <= 1) that must be NotReady for the pool to count as having lost its cloud link "+
			"(the node lifecycle controller's --unhealthy-zone-threshold): its leaders are kept whatever their Ready condition, "+
			"LeaderReady is Unknown (PoolUnreachable), and no election is counted for it.")
	es.DurationVar(&o.PoolRecoveryGracePeriod, "pool-recovery-grace-period", o.PoolRecoveryGracePeriod,
		"Once a pool is no longer cut off, how long a leader kept through the outage has to report Ready again before it is replaced.")

	kc := fss.FlagSet("kube-apiserver connection")
	o.Recommended.CoreAPI.AddFlags(kc)
	kc.Float32Var(&o.KubeAPIQPS, "kube-api-qps", o.KubeAPIQPS, "Requests per second leaderhub's NodePool reader and controller may send to kube-apiserver.")
	kc.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst, "Burst of requests above --kube-api-qps.")
	o.Recommended.SecureServing.AddFlags(fss.FlagSet("secure serving"))
	// k8s.io/apiserver's own graceful-termination flags, as kube-apiserver
	// has them, taken from the set they come in.
	universal := pflag.NewFlagSet("universal", pflag.ContinueOnError)
	o.ServerRun.AddUniversalFlags(universal)
	for _, name := range shutdownFlags {
		fss.FlagSet("graceful termination").AddFlag(universal.Lookup(name))
	}
	o.Recommended.Authentication.AddFlags(fss.FlagSet("authentication"))
	o.Recommended.Authorization.AddFlags(fss.FlagSet("authorization"))
	fss.FlagSet("authorization").BoolVar(&o.AuthorizeNodes, "authorize-nodes", o.AuthorizeNodes,
		"Let edge nodes (system:node:<name>) get, list and watch only leader-hub-<pool> of their own NodePool, and deny them anything else, before the delegated authorization.")
	o.Recommended.Audit.AddFlags(fss.FlagSet("auditing"))
	o.Recommended.Features.AddFlags(fss.FlagSet("features"))
	utilfeature.DefaultMutableFeatureGate.AddFlag(fss.FlagSet("features"))
	logsapi.AddFlags(o.Logs, fss.FlagSet("logging"))
	return fss
}

// Complete fills in what follows from other options: the one kubeconfig
// (--kubeconfig) also serves delegated authentication and authorization.
func (o *Options) Complete() {
	kubeconfig := o.Recommended.CoreAPI.CoreAPIKubeconfigPath
	if o.Recommended.Authentication.RemoteKubeConfigFile == "" {
		o.Recommended.Authentication.RemoteKubeConfigFile = kubeconfig
	}
	if o.Recommended.Authorization.RemoteKubeConfigFile == "" {
		o.Recommended.Authorization.RemoteKubeConfigFile = kubeconfig
	}
	if o.ControllerLease.ResourceNamespace == "" {
		o.ControllerLease.ResourceNamespace = o.Namespace
	}
}

// Validate reports every invalid option.
func (o *Options) Validate() error {
	errs := o.Recommended.Validate()
	if msgs := validation.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--namespace %q: %v", o.Namespace, msgs))
	}
	if o.ServerRun.ShutdownDelayDuration < 0 || o.ServerRun.ShutdownWatchTerminationGracePeriod < 0 {
		errs = append(errs, fmt.Errorf("--shutdown-delay-duration and --shutdown-watch-termination-grace-period must not be negative"))
	}
	if o.LeaderHubPort < 1 || o.LeaderHubPort > 65535 {
		errs = append(errs, fmt.Errorf("--leader-hub-port %d: must be 1-65535", o.LeaderHubPort))
	}
	if o.BookmarkInterval <= 0 || o.WatcherBuffer <= 0 || o.HistorySize <= 0 {
		errs = append(errs, fmt.Errorf("--watch-bookmark-interval, --watch-buffer and --watch-history must be positive"))
	}
	var err error
	if o.parsed.materialize, o.parsed.hubLeader, err = manager.ParseControllers(o.Controllers); err != nil {
		errs = append(errs, err)
	}
	if o.ElectionDeadline <= 0 || o.LeaderGracePeriod < 0 {
		errs = append(errs, fmt.Errorf("--election-deadline must be positive and --leader-grace-period not negative"))
	}
	if !(o.PoolDisruptionThreshold > 0 && o.PoolDisruptionThreshold <= 1) || o.PoolRecoveryGracePeriod < 0 {
		errs = append(errs, fmt.Errorf("--pool-disruption-threshold must be in (0, 1] (it is %g) and --pool-recovery-grace-period not negative",
			o.PoolDisruptionThreshold))
	}
	if o.parsed.forms, err = materialize.ParseForms(o.Materialize); err != nil {
		errs = append(errs, fmt.Errorf("--materialize: %w", err))
	}
	if o.KubeAPIQPS <= 0 || o.KubeAPIBurst <= 0 {
		errs = append(errs, fmt.Errorf("--kube-api-qps and --kube-api-burst must be positive"))
	}
	if o.ControllerWorkers <= 0 || o.ControllerResync <= 0 {
		errs = append(errs, fmt.Errorf("--controller-workers and --controller-resync-period must be positive"))
	}
	if err := logsapi.ValidateAndApply(o.Logs, utilfeature.DefaultFeatureGate); err != nil {
		errs = append(errs, err)
	}
	o.validated = len(errs) == 0
	return utilerrors.NewAggregate(errs)
}

// selfSignedCertDir points --cert-dir at a new temporary directory when
// neither it nor --tls-cert-file is set, so a binary run by hand writes its
// self-signed pair there (and says where) instead of into the working
// directory.
func (o *Options) selfSignedCertDir() error {
	cert := &o.Recommended.SecureServing.ServerCert
	if cert.CertKey.CertFile != "" || cert.CertKey.KeyFile != "" || cert.CertDirectory != "" {
		return nil
	}
	dir, err := os.MkdirTemp("", "leaderhub-apiserver-certs-")
	if err != nil {
		return fmt.Errorf("a temporary directory for the self-signed serving certificate: %w", err)
	}
	cert.CertDirectory = dir
	klog.InfoS("Neither --tls-cert-file nor --cert-dir is set: serving a self-signed certificate, written to a temporary directory; kube-apiserver's aggregation layer must trust the certificate it verifies, so set --tls-cert-file and --tls-private-key-file for real use",
		"certDir", dir)
	return nil
}

// Config builds the server configuration from complete, valid options.
func (o *Options) Config() (*Config, error) {
	if !o.validated {
		return nil, errors.New("options not validated (call Complete and Validate first)")
	}
	if err := o.selfSignedCertDir(); err != nil {
		return nil, err
	}
	if err := o.Recommended.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", nil, []net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return nil, fmt.Errorf("creating self-signed serving certificate: %w", err)
	}
	generic := genericapiserver.NewRecommendedConfig(Codecs)
	generic.EffectiveVersion = basecompatibility.NewEffectiveVersionFromString(baseversion.DefaultKubeBinaryVersion, "", "")
	generic.FeatureGate = utilfeature.DefaultFeatureGate
	namer := openapinamer.NewDefinitionNamer(Scheme)
	generic.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(generatedopenapi.GetOpenAPIDefinitions, namer)
	generic.OpenAPIConfig.Info.Title, generic.OpenAPIConfig.Info.Version = "leaderhub", "v1alpha1"
	generic.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(generatedopenapi.GetOpenAPIDefinitions, namer)
	generic.OpenAPIV3Config.Info.Title, generic.OpenAPIV3Config.Info.Version = "leaderhub", "v1alpha1"
	if err := o.Recommended.ApplyTo(generic); err != nil {
		return nil, err
	}
	generic.ShutdownDelayDuration = o.ServerRun.ShutdownDelayDuration
	generic.ShutdownSendRetryAfter = o.ServerRun.ShutdownSendRetryAfter
	generic.ShutdownWatchTerminationGracePeriod = o.ServerRun.ShutdownWatchTerminationGracePeriod
	return &Config{
		Generic: generic,
		Extra: ExtraConfig{
			Kubeconfig:   o.Recommended.CoreAPI.CoreAPIKubeconfigPath,
			KubeAPIQPS:   o.KubeAPIQPS,
			KubeAPIBurst: o.KubeAPIBurst,
			View: viewstore.Options{
				HistorySize:      o.HistorySize,
				WatcherBuffer:    o.WatcherBuffer,
				BookmarkInterval: o.BookmarkInterval,
			},
			Namespace:      o.Namespace,
			LeaderHubPort:  o.LeaderHubPort,
			AuthorizeNodes: o.AuthorizeNodes,
			Manager: manager.Config{
				Materialize:      o.parsed.materialize,
				HubLeader:        o.parsed.hubLeader,
				Forms:            o.parsed.forms,
				Workers:          o.ControllerWorkers,
				ResyncPeriod:     o.ControllerResync,
				LeaderGrace:      o.LeaderGracePeriod,
				ElectionDeadline: o.ElectionDeadline,
				Outages: election.Policy{
					DisruptionThreshold: o.PoolDisruptionThreshold, RecoveryGrace: o.PoolRecoveryGracePeriod,
				},
				Lease: o.ControllerLease,
			},
		},
	}, nil
}

// bindControllerLeaseFlags binds component-base's --leader-elect-* flags
// (names and defaults as every Kubernetes component has them) with help
// that says what they govern here: the controller lease, not the hub-leader
// election.
func bindControllerLeaseFlags(l *componentbaseconfig.LeaderElectionConfiguration, fs *pflag.FlagSet) {
	componentbaseoptions.BindLeaderElectionFlags(l, fs)
	for name, usage := range map[string]string{
		"leader-elect": "Run the controllers only while this replica holds the controller lease, so that one replica " +
			"at a time writes. Keep it on with more than one replica.",
		"leader-elect-lease-duration": "How long other replicas wait after the controller lease was last renewed " +
			"before they take it over: the longest the controllers stand still when the replica holding it dies.",
		"leader-elect-renew-deadline": "How long the replica holding the controller lease keeps trying to renew it " +
			"before it stops its controllers. Less than --leader-elect-lease-duration.",
		"leader-elect-retry-period":       "How often replicas try to take or renew the controller lease.",
		"leader-elect-resource-lock":      "The kind of object that holds the controller lease: 'leases'.",
		"leader-elect-resource-name":      "Name of the Lease that holds the controller lease.",
		"leader-elect-resource-namespace": "Namespace of the Lease that holds the controller lease (default: --namespace).",
	} {
		fs.Lookup(name).Usage = usage
	}
}
