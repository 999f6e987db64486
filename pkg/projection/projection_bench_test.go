package projection

import (
	"fmt"
	"testing"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

func benchPool(leaders int) *appsv1beta2.NodePool {
	np := pool("bench")
	for i := 0; i < leaders; i++ {
		np.Status.LeaderEndpoints = append(np.Status.LeaderEndpoints,
			appsv1beta2.Leader{NodeName: fmt.Sprintf("node-%04d", leaders-i), Address: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255+1)})
	}
	return np
}

// BenchmarkLeaderHub projects a pool with 2 and with 1000 leaders.
func BenchmarkLeaderHub(b *testing.B) {
	for _, n := range []int{2, 1000} {
		np := benchPool(n)
		b.Run(fmt.Sprintf("leaders=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, _, err := project(np); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPoolEqual compares two projections of the same pool, the check
// every NodePool update pays.
func BenchmarkPoolEqual(b *testing.B) {
	x, _, _ := Project(benchPool(2))
	y, _, _ := Project(benchPool(2))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !x.Equal(&y) {
			b.Fatal("not equal")
		}
	}
}
