package workers

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
)

// TestRun: every key is processed by one of the workers, and Run returns
// once ctx ends, after the queue is shut down.
func TestRun(t *testing.T) {
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[int]())
	for i := range 100 {
		queue.Add(i)
	}
	var processed atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, 4, queue, func(context.Context) bool {
			key, quit := queue.Get()
			if quit {
				return false
			}
			defer queue.Done(key)
			processed.Add(1)
			return true
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for processed.Load() < 100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after ctx ended")
	}
	if got := processed.Load(); got != 100 {
		t.Errorf("%d keys processed, want 100", got)
	}
	if !queue.ShuttingDown() {
		t.Error("the queue was not shut down")
	}
}
