package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authorization/union"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
	"github.com/leaderhub/leaderhub/pkg/authorizer/nodepool"
	"github.com/leaderhub/leaderhub/pkg/controller/manager"
	"github.com/leaderhub/leaderhub/pkg/feed"
	"github.com/leaderhub/leaderhub/pkg/instancemetrics"
	"github.com/leaderhub/leaderhub/pkg/projection"
	"github.com/leaderhub/leaderhub/pkg/registry/leaderhub/storage"
	"github.com/leaderhub/leaderhub/pkg/registry/leaderhub/viewstore"
)

// ExtraConfig is leaderhub's own configuration.
type ExtraConfig struct {
	// Kubeconfig reaches kube-apiserver; empty means in-cluster.
	Kubeconfig    string
	KubeAPIQPS    float32
	KubeAPIBurst  int
	Namespace     string
	LeaderHubPort int32
	View          viewstore.Options
	// Manager is what runs besides the API: feeds, tracker, controllers.
	Manager manager.Config
	// AuthorizeNodes puts the per-pool node authorizer before the delegated one.
	AuthorizeNodes bool
}

// Config is the whole server configuration.
type Config struct {
	Generic *genericapiserver.RecommendedConfig
	Extra   ExtraConfig
}

type completedConfig struct {
	generic genericapiserver.CompletedConfig
	extra   ExtraConfig
}

// CompletedConfig is a Config with every default filled in; only it can
// build a Server, so nothing runs half-configured.
type CompletedConfig struct {
	*completedConfig
}

// Complete fills in the defaults: the view and the controllers publish
// with the same projection options.
func (c *Config) Complete() CompletedConfig {
	popts := projection.Options{Namespace: c.Extra.Namespace, LeaderHubPort: c.Extra.LeaderHubPort}
	c.Extra.View.Projection, c.Extra.Manager.Projection = popts, popts
	return CompletedConfig{&completedConfig{generic: c.Generic.Complete(), extra: c.Extra}}
}

// Server is a configured leaderhub-apiserver, ready to run.
type Server struct {
	generic *genericapiserver.GenericAPIServer
	view    *viewstore.Store
	manager *manager.Manager
}

// New builds the server: the view store, the manager that feeds it and runs
// the controllers, and the leaderhub.openyurt.io API group over both.
func (c CompletedConfig) New() (*Server, error) {
	restConfig, err := clientcmd.BuildConfigFromFlags("", c.extra.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %q: %w", c.extra.Kubeconfig, err)
	}
	restConfig.UserAgent = "leaderhub-apiserver"
	restConfig.QPS, restConfig.Burst = c.extra.KubeAPIQPS, c.extra.KubeAPIBurst

	view := viewstore.New(c.extra.View)
	view.RegisterMetrics(instancemetrics.Legacy())
	mgr, err := manager.New(restConfig, c.extra.Manager, view)
	if err != nil {
		return nil, err
	}
	judgeable := requestsJudgeable{frontProxyCA: c.generic.Authentication.RequestHeaderConfig}
	if c.extra.AuthorizeNodes {
		if err := c.authorizeNodes(mgr.Nodes()); err != nil {
			return nil, err
		}
		judgeable.nodes = mgr.NodesSynced
	}
	c.generic.BuildHandlerChainFunc = judgeable.buildHandlerChain

	generic, err := c.generic.New("leaderhub-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	viewSynced := healthz.NamedCheck("nodepool-view-synced", func(*http.Request) error {
		if !view.HasSynced() {
			return errors.New("the NodePool view has not synced yet")
		}
		return nil
	})
	if err := generic.AddReadyzChecks(append([]healthz.HealthChecker{judgeable.readyzCheck(), viewSynced}, mgr.ReadyzChecks()...)...); err != nil {
		return nil, err
	}
	group := genericapiserver.NewDefaultAPIGroupInfo(leaderhub.GroupName, Scheme, metav1.ParameterCodec, Codecs)
	group.VersionedResourcesStorageMap[v1alpha1.SchemeGroupVersion.Version] = map[string]rest.Storage{
		v1alpha1.ResourcePlural: storage.NewREST(view, mgr.Tracker()),
	}
	if err := generic.InstallAPIGroup(&group); err != nil {
		return nil, fmt.Errorf("installing %s: %w", leaderhub.GroupName, err)
	}
	return &Server{generic: generic, view: view, manager: mgr}, nil
}

var _ nodepool.PoolLookup = &feed.Nodes{}

// authorizeNodes puts the per-pool node authorizer, reading the manager's
// Node cache, before the delegated authorizer.
func (c CompletedConfig) authorizeNodes(nodes nodepool.PoolLookup) error {
	chained, err := union.New(
		union.NamedAuthorizer{AuthorizerName: "leaderhub-nodepool",
			Authorizer: nodepool.New(nodes, c.extra.Namespace)},
		union.NamedAuthorizer{AuthorizerName: "delegated", Authorizer: c.generic.Authorization.Authorizer},
	)
	if err != nil {
		return err
	}
	c.generic.Authorization.Authorizer = chained
	return nil
}

// managerStopTimeout bounds how long the process waits, once the server has
// stopped, for the manager: the lease release is one request, but a
// kube-apiserver that does not answer must not hold the exit.
const managerStopTimeout = 5 * time.Second

// Run serves until ctx ends, then shuts down in k8s.io/apiserver's order
// (--shutdown-delay-duration and the other graceful-termination options):
//
//   - at once, /readyz fails, and the controllers stop and hand the
//     controller lease over (released, so a successor takes it at once);
//   - after the delay, every view watch ends (a pre-shutdown hook) and new
//     ones are refused, so no watch holds the HTTP server's shutdown open;
//     clients resume on another replica from the version they hold, which
//     a last bookmark, confirmed by a consistent NodePool list, brings to
//     kube-apiserver's newest;
//   - once the HTTP server has stopped, the feeds stop, and Run returns
//     when the manager has (bounded by managerStopTimeout).
//
// The feeds keep the view current while it serves, delay included.
func (s *Server) Run(ctx context.Context) error {
	serving, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	managerDone := make(chan struct{})
	s.generic.AddPostStartHookOrDie("leaderhub-view", func(genericapiserver.PostStartHookContext) error {
		go s.view.Run(serving)
		go func() {
			defer close(managerDone)
			// The controllers stop at SIGTERM (ctx), not when the HTTP
			// server stops (hook's context, after the shutdown delay): the
			// lease is handed over while this replica still serves.
			s.manager.Run(serving, ctx)
		}()
		return nil
	})
	delay := s.generic.ShutdownDelayDuration
	s.generic.AddPreShutdownHookOrDie("leaderhub-end-watches", func() error {
		time.Sleep(delay) // serve normally through the delay, as k8s.io/apiserver does
		began := time.Now()
		n, rv := s.view.EndWatches(context.Background())
		klog.InfoS("Shutting down: ended every view watch; clients resume on another replica",
			"watches", n, "lastBookmarkResourceVersion", rv, "took", time.Since(began))
		return nil
	})
	err := s.generic.PrepareRun().RunWithContext(ctx)
	stopServing()
	select {
	case <-managerDone:
		klog.InfoS("Shut down: the feeds and controllers have stopped")
	case <-time.After(managerStopTimeout):
		klog.InfoS("Exiting before the manager stopped", "waited", managerStopTimeout)
	}
	return err
}

// Run serves until ctx ends. o must be completed and valid (Complete, then
// Validate, which also applies the logging options): the caller does both
// first, so that everything it logs is already in the configured format.
func Run(ctx context.Context, o *Options) error {
	if !o.validated {
		return errors.New("server.Run: options not validated (call Complete and Validate first)")
	}
	config, err := o.Config()
	if err != nil {
		return err
	}
	srv, err := config.Complete().New()
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}
