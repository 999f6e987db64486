package viewstore

import (
	"bytes"
	"context"
	"fmt"
	goruntime "runtime"
	"testing"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub/install"
	"github.com/leaderhub/leaderhub/pkg/projection"
)

func quietLogs(b *testing.B) {
	klog.SetOutput(&bytes.Buffer{})
	klog.LogToStderr(false)
	b.Cleanup(func() { klog.LogToStderr(true) })
}

// benchStore has pools p0..p(pools-1) and watchersPerPool name-selected
// watchers on each, all drained by goroutines that signal each delivery.
func benchStore(b *testing.B, pools, watchersPerPool int) (*Store, chan struct{}) {
	quietLogs(b)
	s := New(Options{Projection: projection.Options{Namespace: ns}, WatcherBuffer: 64})
	items := make([]interface{}, 0, pools)
	for i := 0; i < pools; i++ {
		items = append(items, nodePool(fmt.Sprintf("p%d", i), 10, "10.0.0.1"))
	}
	if err := s.Replace(items, "10"); err != nil {
		b.Fatal(err)
	}
	delivered := make(chan struct{}, pools*watchersPerPool)
	for i := 0; i < pools; i++ {
		for j := 0; j < watchersPerPool; j++ {
			w, err := s.Watch(context.Background(), ns, &metainternalversion.ListOptions{ResourceVersion: "10",
				FieldSelector: fields.OneTermEqualSelector("metadata.name", fmt.Sprintf("leader-hub-p%d", i))})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(w.Stop)
			go func() {
				for range w.ResultChan() {
					delivered <- struct{}{}
				}
			}()
		}
	}
	return s, delivered
}

// BenchmarkFanOut: one leader change of a pool delivered to each of its
// watchers; the other pools' watchers must cost nothing (name index).
func BenchmarkFanOut(b *testing.B) {
	for _, tc := range []struct{ pools, perPool int }{{1, 20}, {1, 1000}, {500, 20}} {
		b.Run(fmt.Sprintf("pools=%d/watchersPerPool=%d", tc.pools, tc.perPool), func(b *testing.B) {
			s, delivered := benchStore(b, tc.pools, tc.perPool)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.Update(nodePool("p0", uint64(11+i), fmt.Sprintf("10.1.%d.%d", i>>8&255, i&255+1))); err != nil { // never the initial 10.0.0.1
					b.Fatal(err)
				}
				for j := 0; j < tc.perPool; j++ {
					<-delivered
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tc.perPool), "ns/delivery")
		})
	}
}

// BenchmarkNoopUpdate: a NodePool update that leaves the projection alone,
// with 10,000 watchers open: the cost status churn puts on the view.
func BenchmarkNoopUpdate(b *testing.B) {
	s, _ := benchStore(b, 500, 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		np := nodePool("p0", uint64(11+i), "10.0.0.1")
		np.Status.ReadyNodeNum = int32(i)
		if err := s.Update(np); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWatchEventEncode: the JSON encoding of one watch event object
// as the API server does it for every watcher (conversion to v1alpha1 and
// serialization), for a pool with 2 leaders.
func BenchmarkWatchEventEncode(b *testing.B) {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	codecs := serializer.NewCodecFactory(scheme)
	codec := codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)
	s, _ := benchStore(b, 1, 0)
	_ = s.Update(nodePool("p0", 11, "10.0.0.1", "10.0.0.2"))
	obj, err := s.Get(context.Background(), ns, "leader-hub-p0")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		if err := codec.Encode(obj, &buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/event")
}

// BenchmarkMemoryPerPool: the heap the store keeps per NodePool (with two
// leaders, a UID and a creation time, as in a cluster), measured after a
// forced GC once 10,000 pools are stored.
func BenchmarkMemoryPerPool(b *testing.B) {
	quietLogs(b)
	const pools = 10000
	var perPool float64
	for i := 0; i < b.N; i++ {
		perPool = retainedPerItem(pools, func() any {
			s := New(Options{Projection: projection.Options{Namespace: ns}})
			if err := s.Replace(nil, "1"); err != nil {
				b.Fatal(err)
			}
			for p := 0; p < pools; p++ {
				np := nodePool(fmt.Sprintf("pool-%05d", p), uint64(2+p), fmt.Sprintf("10.%d.%d.1", p>>8, p&255), fmt.Sprintf("10.%d.%d.2", p>>8, p&255))
				np.UID = types.UID(fmt.Sprintf("5b0e1c3e-9f4a-4b8e-a0d4-%012d", p))
				np.CreationTimestamp = metav1.Now()
				np.Spec.InterConnectivity = true
				if err := s.Add(np); err != nil {
					b.Fatal(err)
				}
			}
			return s
		})
	}
	b.ReportMetric(perPool, "B/pool")
}

// retainedPerItem returns the heap that what build returns keeps alive,
// divided by n.
func retainedPerItem(n int, build func() any) float64 {
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	kept := build()
	goruntime.GC()
	goruntime.ReadMemStats(&after)
	goruntime.KeepAlive(kept)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}
