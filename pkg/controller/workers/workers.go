package workers

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/workqueue"
)

// Run runs n workers until ctx ends. Each calls processNext until it
// returns false (the queue is shutting down), and is started again a second
// later should it return while ctx lasts. When ctx ends, the queue is shut
// down and Run waits for the workers to finish the keys they hold.
func Run[T comparable](ctx context.Context, n int, queue workqueue.TypedRateLimitingInterface[T], processNext func(context.Context) bool) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			wait.UntilWithContext(ctx, func(ctx context.Context) {
				for processNext(ctx) {
				}
			}, time.Second)
		})
	}
	<-ctx.Done()
	queue.ShutDown()
	wg.Wait()
}
