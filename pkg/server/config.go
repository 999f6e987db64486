package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/authorization/union"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/authorizer/nodepool"
	"github.com/leaderhub/leaderhub/pkg/election"
	openyurtclient "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned"
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
	Controllers   ControllerConfig
	// AuthorizeNodes puts the per-pool node authorizer before the delegated one.
	AuthorizeNodes bool
	// ElectionDeadline is how long an election may take and succeed.
	ElectionDeadline time.Duration
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

// Complete fills in the defaults.
func (c *Config) Complete() CompletedConfig {
	c.Extra.View.Projection = projection.Options{Namespace: c.Extra.Namespace, LeaderHubPort: c.Extra.LeaderHubPort}
	return CompletedConfig{&completedConfig{generic: c.Generic.Complete(), extra: c.Extra}}
}

// Server is a configured leaderhub-apiserver, ready to run.
type Server struct {
	generic     *genericapiserver.GenericAPIServer
	view        *viewstore.Store
	reflector   *cache.Reflector
	nodes       cache.SharedIndexInformer
	tracker     *election.Tracker
	controllers *controllers // nil when none is enabled
}

// New builds the server: the view store, the NodePool reflector feeding it,
// and the leaderhub.openyurt.io API group.
func (c CompletedConfig) New() (*Server, error) {
	restConfig, err := clientcmd.BuildConfigFromFlags("", c.extra.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %q: %w", c.extra.Kubeconfig, err)
	}
	restConfig.UserAgent = "leaderhub-apiserver"
	restConfig.QPS, restConfig.Burst = c.extra.KubeAPIQPS, c.extra.KubeAPIBurst
	client, err := openyurtclient.NewForConfig(restConfig)
	if err != nil {
		return nil, err
	}

	view := viewstore.New(c.extra.View)
	view.RegisterMetrics(instancemetrics.Legacy())
	pools := client.AppsV1beta2().NodePools()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return pools.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return pools.Watch(ctx, opts)
		},
	}
	// One Node informer, slimmed by election.TransformNode, serves both the
	// election tracker and the node authorizer. Nodes are read as protobuf:
	// they are many and large before the transform.
	nodeConfig := restclient.CopyConfig(restConfig)
	nodeConfig.ContentType = runtime.ContentTypeProtobuf
	nodeConfig.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	kube, err := kubernetes.NewForConfig(nodeConfig)
	if err != nil {
		return nil, err
	}
	nodes := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithTransform(election.TransformNode)).
		Core().V1().Nodes().Informer()
	if err := nodes.AddIndexers(election.NodeIndexers); err != nil {
		return nil, err
	}
	tracker := election.NewTracker(nodes.GetIndexer(), election.Options{Deadline: c.extra.ElectionDeadline})
	tracker.RegisterMetrics(instancemetrics.Legacy())
	if _, err := nodes.AddEventHandler(tracker.NodeHandler()); err != nil {
		return nil, err
	}
	// The view's NodePool watch feeds the tracker too: no second watch.
	reflector := cache.NewReflectorWithOptions(lw, &appsv1beta2.NodePool{}, electionTee{Store: view, tracker: tracker},
		cache.ReflectorOptions{Name: "leaderhub-view"})

	if c.extra.AuthorizeNodes {
		nodeAuthz := nodepool.New(nodepool.InformerLookup{Indexer: nodes.GetIndexer()}, c.extra.Namespace)
		chained, err := union.New(
			union.NamedAuthorizer{AuthorizerName: "leaderhub-nodepool", Authorizer: nodeAuthz},
			union.NamedAuthorizer{AuthorizerName: "delegated", Authorizer: c.generic.Authorization.Authorizer},
		)
		if err != nil {
			return nil, err
		}
		c.generic.Authorization.Authorizer = chained
	}

	ctrls, err := newControllers(restConfig, c.extra.Controllers, c.extra.View.Projection, view, tracker, pools)
	if err != nil {
		return nil, err
	}

	judgeable := requestsJudgeable{frontProxyCA: c.generic.Authentication.RequestHeaderConfig}
	if c.extra.AuthorizeNodes {
		judgeable.nodes = nodes.HasSynced
	}
	c.generic.BuildHandlerChainFunc = judgeable.buildHandlerChain

	generic, err := c.generic.New("leaderhub-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	if err := generic.AddReadyzChecks(judgeable.readyzCheck()); err != nil {
		return nil, err
	}
	if ctrls != nil {
		if err := generic.AddReadyzChecks(ctrls.readyzChecks()...); err != nil {
			return nil, err
		}
	}
	if err := generic.AddReadyzChecks(
		healthz.NamedCheck("nodepool-view-synced", func(*http.Request) error {
			if !view.HasSynced() {
				return errors.New("the NodePool view has not synced yet")
			}
			return nil
		}),
		healthz.NamedCheck("election-tracker-started", func(*http.Request) error {
			if !tracker.Started() {
				return errors.New("the Node cache has not synced yet: hub-leader elections are not judged")
			}
			return nil
		}),
	); err != nil {
		return nil, err
	}

	group := genericapiserver.NewDefaultAPIGroupInfo(leaderhub.GroupName, Scheme, metav1.ParameterCodec, Codecs)
	group.VersionedResourcesStorageMap[v1alpha1.SchemeGroupVersion.Version] = map[string]rest.Storage{
		v1alpha1.ResourcePlural: storage.NewREST(view, tracker),
	}
	if err := generic.InstallAPIGroup(&group); err != nil {
		return nil, fmt.Errorf("installing %s: %w", leaderhub.GroupName, err)
	}
	return &Server{generic: generic, view: view, reflector: reflector, nodes: nodes, tracker: tracker, controllers: ctrls}, nil
}

// Run serves until ctx ends: the reflector and the view's bookmarks start
// with the server, and /readyz turns ready once the NodePools are listed.
func (s *Server) Run(ctx context.Context) error {
	s.generic.AddPostStartHookOrDie("leaderhub-view", func(hook genericapiserver.PostStartHookContext) error {
		go s.reflector.RunWithContext(hook)
		go s.view.Run(hook)
		go s.nodes.RunWithContext(hook)
		go func() {
			// The tracker judges once both the NodePools and the Nodes are
			// in: a half-filled Node cache would read as stale leaders.
			if cache.WaitForNamedCacheSyncWithContext(hook, s.view.HasSynced, s.nodes.HasSynced) {
				s.tracker.Start()
			}
		}()
		if s.controllers != nil {
			go s.controllers.run(hook)
		} else {
			klog.InfoS("Controllers disabled")
		}
		return nil
	})
	return s.generic.PrepareRun().RunWithContext(ctx)
}

// electionTee is the view's NodePool reflector store, which hands every
// NodePool to the election tracker as well.
type electionTee struct {
	*viewstore.Store
	tracker *election.Tracker
}

func (t electionTee) Add(obj interface{}) error { return t.Update(obj) }

func (t electionTee) Update(obj interface{}) error {
	if err := t.Store.Update(obj); err != nil {
		return err
	}
	if np, ok := obj.(*appsv1beta2.NodePool); ok {
		t.tracker.Upsert(np)
	}
	return nil
}

func (t electionTee) Delete(obj interface{}) error {
	if err := t.Store.Delete(obj); err != nil {
		return err
	}
	if np, ok := obj.(*appsv1beta2.NodePool); ok {
		t.tracker.Delete(np.Name)
	}
	return nil
}

func (t electionTee) Replace(list []interface{}, rv string) error {
	if err := t.Store.Replace(list, rv); err != nil {
		return err
	}
	nps := make([]*appsv1beta2.NodePool, 0, len(list))
	for _, obj := range list {
		if np, ok := obj.(*appsv1beta2.NodePool); ok {
			nps = append(nps, np)
		}
	}
	t.tracker.Replace(nps)
	return nil
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
