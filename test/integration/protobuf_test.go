package integration

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/client/generated/informers/externalversions"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/install"
)

const (
	protobufType = "application/vnd.kubernetes.protobuf"
	jsonType     = "application/json"
)

// contentTypes records the Content-Type of every response a client got.
type contentTypes struct {
	mu   sync.Mutex
	seen map[string]int
}

func (c *contentTypes) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err == nil && strings.Contains(req.URL.Path, "/leaderhubs") {
				mediaType, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
				c.mu.Lock()
				if c.seen == nil {
					c.seen = map[string]int{}
				}
				c.seen[mediaType]++
				c.mu.Unlock()
			}
			return resp, err
		})
	})
	return cfg
}

func (c *contentTypes) only(t *testing.T, want string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) != 1 || c.seen[want] == 0 {
		t.Errorf("responses by Content-Type: %v, want only %s", c.seen, want)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// jsonOnly makes a generated client ask for and send JSON, as a client
// built before protobuf was served would.
func jsonOnly(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.ContentType, cfg.AcceptContentTypes = jsonType, jsonType
	return cfg
}

// TestViewServesProtobuf: through kube-apiserver's aggregation layer the
// view answers get, list and watch in protobuf when asked (the generated
// clientset asks by default) with the same objects and events as in JSON;
// the generated informer runs on protobuf; kubectl is unaffected.
func TestViewServesProtobuf(t *testing.T) {
	sharedView(t)
	ctx := testContext(t, 2*time.Minute)
	const pool = "protobuf-pool"
	np := createPool(t, pool, leaders("pb-1=10.20.0.1"))
	waitViewLeaders(t, pool, "pb-1/10.20.0.1")
	name := v1alpha1.ObjectName(pool)
	admin := adminConfig(t)

	// get and list, byte for byte through the aggregator: a protobuf body
	// that decodes to the object the JSON body decodes to.
	scheme := runtime.NewScheme()
	install.Install(scheme)
	codecs := runtimeserializer.NewCodecFactory(scheme)
	pb := protobuf.NewSerializer(scheme, scheme)
	httpClient, err := rest.HTTPClientFor(admin)
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(path, accept string) runtime.Object {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, admin.Host+path, nil)
		req.Header.Set("Accept", accept)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if got, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";"); resp.StatusCode != http.StatusOK || got != accept {
			t.Fatalf("GET %s as %s: %s, Content-Type %q: %.300s", path, accept, resp.Status, got, body)
		}
		decoder := codecs.UniversalDeserializer()
		if accept == protobufType {
			decoder = pb
		}
		obj, _, err := decoder.Decode(body, nil, nil)
		if err != nil {
			t.Fatalf("decoding %s: %v", accept, err)
		}
		return obj
	}
	base := "/apis/leaderhub.openyurt.io/v1alpha1/namespaces/" + viewNS + "/leaderhubs"
	for _, path := range []string{base + "/" + name, base + "?fieldSelector=metadata.name%3D" + name} {
		fromJSON, fromPB := fetch(path, jsonType), fetch(path, protobufType)
		if !apiequality.Semantic.DeepEqual(fromJSON, fromPB) {
			t.Errorf("GET %s: protobuf and JSON differ:\n%s", path, diff.Diff(fromJSON, fromPB))
		}
	}

	// watch: a protobuf watch (the generated clientset's default) and a JSON
	// watch from the same version see the same events in the same order.
	var pbTypes, jsonTypes contentTypes
	pbClient := leaderHubClient(t, pbTypes.wrap(admin)).LeaderhubV1alpha1().LeaderHubs(viewNS)
	jsonClient := leaderHubClient(t, jsonTypes.wrap(jsonOnly(admin))).LeaderhubV1alpha1().LeaderHubs(viewNS)
	start, err := jsonClient.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: start.ResourceVersion}
	pbWatch, err := pbClient.Watch(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer pbWatch.Stop()
	jsonWatch, err := jsonClient.Watch(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer jsonWatch.Stop()
	setLeaders(t, pool, leaders("pb-2=10.20.0.2"))
	churn(t, pool, 1) // status churn: no event in either encoding
	setLeaders(t, pool, leaders("pb-2=10.20.0.2", "pb-3=10.20.0.3"))
	if err := clientset(t).AppsV1beta2().NodePools().Delete(ctx, np.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pbEvents, jsonEvents := collect(t, pbWatch, 3), collect(t, jsonWatch, 3)
	for i := range jsonEvents {
		if pbEvents[i].Type != jsonEvents[i].Type || !apiequality.Semantic.DeepEqual(pbEvents[i].Object, jsonEvents[i].Object) {
			t.Errorf("event %d: protobuf %s %v, JSON %s %v", i, pbEvents[i].Type, pbEvents[i].Object, jsonEvents[i].Type, jsonEvents[i].Object)
		}
	}
	if got := []watch.EventType{jsonEvents[0].Type, jsonEvents[1].Type, jsonEvents[2].Type}; got[0] != watch.Modified || got[1] != watch.Modified || got[2] != watch.Deleted {
		t.Errorf("events %v, want MODIFIED, MODIFIED, DELETED", got)
	}
	pbTypes.only(t, protobufType)
	jsonTypes.only(t, jsonType)

	// The generated informer lists and watches in protobuf.
	var informerTypes contentTypes
	other := "protobuf-informer-pool"
	createPool(t, other, leaders("pbi-1=10.21.0.1"))
	factory := externalversions.NewSharedInformerFactoryWithOptions(leaderHubClient(t, informerTypes.wrap(admin)), 0,
		externalversions.WithNamespace(viewNS))
	informer := factory.Leaderhub().V1alpha1().LeaderHubs()
	lister := informer.Lister()
	informerCtx, stop := context.WithCancel(ctx)
	defer stop()
	factory.Start(informerCtx.Done())
	if !cache.WaitForCacheSync(informerCtx.Done(), informer.Informer().HasSynced) {
		t.Fatal("informer never synced")
	}
	setLeaders(t, other, leaders("pbi-2=10.21.0.2"))
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		lh, err := lister.LeaderHubs(viewNS).Get(v1alpha1.ObjectName(other))
		return err == nil && leaderHubLeaders(lh) == "pbi-2/10.21.0.2", nil
	}); err != nil {
		t.Fatalf("the informer never saw the leader change: %v", err)
	}
	stop()
	factory.Shutdown()
	informerTypes.only(t, protobufType)

	// kubectl asks for tables and JSON, as before (TestViewKubectl
	// checks its output in detail).
	otherName := v1alpha1.ObjectName(other)
	for _, args := range [][]string{
		{"get", "lh", "-n", viewNS, otherName},
		{"get", "lh", "-n", viewNS, otherName, "-o", "yaml"},
	} {
		out, err := controlPlane.Kubectl(ctx, args...)
		if err != nil || !strings.Contains(out, "pbi-2") {
			t.Errorf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	// OpenAPI v3 is aggregated asynchronously after the APIService turns
	// Available, so explain may need a few seconds.
	var explain string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		explain, err = controlPlane.Kubectl(ctx, "explain", "leaderhub.subsets.addresses")
		return err == nil && strings.Contains(explain, "nodeName"), nil
	})
	if err != nil {
		t.Errorf("kubectl explain leaderhub.subsets.addresses: %v\n%s", err, explain)
	}
	watchCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	out, _ := controlPlane.Kubectl(watchCtx, "get", "lh", "-n", viewNS, otherName, "-w")
	if !strings.Contains(out, otherName) || !strings.Contains(out, "pbi-2/10.21.0.2") {
		t.Errorf("kubectl get lh -w:\n%s", out)
	}
}

// collect reads n events from w, bookmarks aside, each within 30s.
func collect(t *testing.T, w watch.Interface, n int) []watch.Event {
	t.Helper()
	var out []watch.Event
	for len(out) < n {
		if ev := nextEvent(t, w, 30*time.Second); ev.Type != watch.Bookmark {
			out = append(out, ev)
		}
	}
	return out
}
