package leaders

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	versionedfake "github.com/leaderhub/leaderhub/client/generated/clientset/versioned/fake"
)

// answer is how one source answers in the matrix.
type answer int

const (
	answers answer = iota // the pool's object
	noObject
	forbidden
	serverError
	unreachable
)

var answerNames = []string{"answers", "no object", "403", "5xx", "unreachable"}

func (a answer) String() string { return answerNames[a] }

func (a answer) err(resource string) error {
	gr := schema.GroupResource{Resource: resource}
	switch a {
	case forbidden:
		return apierrors.NewForbidden(gr, "", errors.New("node may not read it"))
	case serverError:
		return apierrors.NewInternalError(errors.New("etcd timed out"))
	case unreachable:
		return &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return nil
}

// matrixSource is one source of the matrix: its resource, the pool's
// object in it, and the leader IP that object names.
type matrixSource struct {
	name     Source
	resource string
	ip       string
	obj      runtime.Object
	// list is an empty list of the resource's type.
	list runtime.Object
}

func matrixSources() []matrixSource {
	name := v1alpha1.ObjectName("p")
	meta := metav1.ObjectMeta{Name: name, Namespace: "kube-system", ResourceVersion: "10"}
	lh := &v1alpha1.LeaderHub{ObjectMeta: meta, Subsets: []v1alpha1.LeaderHubSubset{{
		Addresses: []v1alpha1.LeaderHubAddress{{IP: "10.0.0.1", NodeName: ptrTo("n1")}}, Ports: []v1alpha1.LeaderHubPort{{Name: "https", Port: 10269}}}}}
	esMeta := meta
	esMeta.Name, esMeta.Labels = name+"-ipv4", map[string]string{v1alpha1.LabelPoolName: "p", v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue}
	port, https := int32(10269), "https"
	es := &discoveryv1.EndpointSlice{ObjectMeta: esMeta, AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.2"}, NodeName: ptrTo("n2")}},
		Ports:     []discoveryv1.EndpointPort{{Name: &https, Port: &port}}}
	ep := &corev1.Endpoints{ObjectMeta: meta, Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.0.0.3", NodeName: ptrTo("n3")}}, Ports: []corev1.EndpointPort{{Name: "https", Port: 10269}}}}}
	cm := &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{v1alpha1.ConfigMapKeyLeaders: "n4/10.0.0.4"}}
	listMeta := metav1.ListMeta{ResourceVersion: "10"}
	return []matrixSource{
		{SourceView, "leaderhubs", "10.0.0.1", lh, &v1alpha1.LeaderHubList{ListMeta: listMeta}},
		{SourceEndpointSlice, "endpointslices", "10.0.0.2", es, &discoveryv1.EndpointSliceList{ListMeta: listMeta}},
		{SourceEndpoints, "endpoints", "10.0.0.3", ep, &corev1.EndpointsList{ListMeta: listMeta}},
		{SourceConfigMap, "configmaps", "10.0.0.4", cm, &corev1.ConfigMapList{ListMeta: listMeta}},
	}
}

func ptrTo[T any](v T) *T { return &v }

// install has a fake clientset answer for one source as a says, for every
// list and watch.
func (m *matrixSource) install(c *k8stesting.Fake, a answer) {
	var items []runtime.Object
	if a == answers {
		items = append(items, m.obj)
	}
	c.PrependReactor("list", m.resource, func(k8stesting.Action) (bool, runtime.Object, error) {
		if err := a.err(m.resource); err != nil {
			return true, nil, err
		}
		list := m.list.DeepCopyObject()
		if err := meta.SetList(list, items); err != nil {
			return true, nil, err
		}
		return true, list, nil
	})
	c.PrependWatchReactor(m.resource, func(action k8stesting.Action) (bool, watch.Interface, error) {
		if err := a.err(m.resource); err != nil {
			return true, nil, err
		}
		opts := action.(k8stesting.WatchActionImpl).ListOptions
		if opts.SendInitialEvents == nil || !*opts.SendInitialEvents {
			return true, watch.NewFake(), nil // resumed: nothing new
		}
		w := watch.NewFakeWithChanSize(len(items)+1, false)
		for _, o := range items {
			w.Add(o.DeepCopyObject())
		}
		end := m.obj.DeepCopyObject()
		em, _ := meta.Accessor(end)
		em.SetName("")
		em.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		w.Action(watch.Bookmark, end)
		return true, w, nil
	})
}

// TestClientKeepsWhatItKnew runs the client over every combination of how
// its four sources answer (the pool's object, no object, 403, 5xx,
// unreachable), with and without a cache file: it delivers the best
// source's leaders; when no source answers it delivers nothing and keeps
// what it knew (the cache file untouched); only the view says the pool is
// gone.
func TestClientKeepsWhatItKnew(t *testing.T) {
	sources := matrixSources()
	cached := Config{Pool: "p", Exists: true, Leaders: []Leader{newLeader("n9", "10.0.0.9", 10269)}, Source: SourceView}
	n := len(answerNames)
	for k := range n * n * n * n {
		answersOf := []answer{answer(k % n), answer(k / n % n), answer(k / n / n % n), answer(k / n / n / n)}
		for _, withCache := range []bool{false, true} {
			var parts []string
			for i, a := range answersOf {
				parts = append(parts, fmt.Sprintf("%s=%s", sources[i].name, a))
			}
			if withCache {
				parts = append(parts, "cache")
			}
			t.Run(strings.Join(parts, ","), func(t *testing.T) {
				t.Parallel()
				checkMatrixCase(t, sources, answersOf, withCache, cached)
			})
		}
	}
}

func checkMatrixCase(t *testing.T, sources []matrixSource, answersOf []answer, withCache bool, cached Config) {
	// What the client must end with: the first source that answers with
	// the pool's object; the view saying it has none; or nothing new.
	var want *Config
	for i, a := range answersOf {
		if a == answers {
			want = &Config{Pool: "p", Exists: true, Source: sources[i].name,
				Leaders: []Leader{newLeader(fmt.Sprintf("n%d", i+1), sources[i].ip, 10269)}}
			break
		}
		if a == noObject && sources[i].name == SourceView {
			want = &Config{Pool: "p", Source: SourceView}
			break
		}
	}
	cacheFile := filepath.Join(t.TempDir(), "leaders.json")
	if withCache {
		if err := writeCache(cacheFile, &cached); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := os.ReadFile(cacheFile)
	viewClient, kubeClient := versionedfake.NewSimpleClientset(), fake.NewClientset()
	sources[0].install(&viewClient.Fake, answersOf[0])
	for i := 1; i < len(sources); i++ {
		sources[i].install(&kubeClient.Fake, answersOf[i])
	}
	c, err := New(Options{Config: &rest.Config{Host: "https://unused"}, Pool: "p", CacheFile: cacheFile,
		ProbeInterval: time.Millisecond, MaxProbeInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c.view, c.kube = viewClient, kubeClient
	rounds := countRounds(c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = c.Run(ctx) }()

	var got []Config
	deadline := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case cfg, ok := <-c.Changes():
			if !ok {
				t.Fatal("Changes closed while the client runs")
			}
			got = append(got, cfg)
			done = want != nil && !cfg.Stale
		case <-time.After(time.Millisecond):
			// Nothing to deliver: done once every source failed three
			// rounds in a row.
			done = want == nil && rounds.Load() >= 3
		case <-deadline:
			t.Fatalf("no Config after 10s; delivered %+v, want %+v", got, want)
		}
	}
	cancel()
	for range c.Changes() { // closed when Run returns
	}
	if err := c.Err(); err != nil {
		t.Errorf("Run: %v", err)
	}

	// The cached Config first, stale (a receiver that falls behind gets
	// only the newest, so it may be replaced before it is read), then what
	// a source said, if any did.
	var wantSeq []Config
	if withCache {
		stale := cached
		stale.Stale, stale.Source = true, SourceCache
		wantSeq = append(wantSeq, stale)
	}
	if want != nil {
		wantSeq = append(wantSeq, *want)
		if withCache && len(got) == 1 {
			wantSeq = wantSeq[1:]
		}
	}
	if !slices.EqualFunc(got, wantSeq, func(a, b Config) bool { return a.SameContent(&b) && a.Source == b.Source && a.Stale == b.Stale }) {
		t.Errorf("delivered %+v, want %+v", got, wantSeq)
	}
	after, _ := os.ReadFile(cacheFile)
	switch {
	case want == nil && string(after) != string(before):
		t.Errorf("no source answered, but the cache file changed:\n%s\nwas:\n%s", after, before)
	case want != nil:
		onDisk, err := readCache(cacheFile)
		if err != nil || onDisk == nil || !onDisk.SameContent(want) {
			t.Errorf("cache file %+v (%v), want %+v", onDisk, err, want)
		}
	}
}
