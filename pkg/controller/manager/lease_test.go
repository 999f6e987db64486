package manager

import (
	"context"
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// fakeLock answers every call with err.
type fakeLock struct {
	resourcelock.Interface
	err error
}

func (f fakeLock) Get(context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	return nil, nil, f.err
}
func (f fakeLock) Update(context.Context, resourcelock.LeaderElectionRecord) error { return f.err }
func (f fakeLock) Describe() string                                                { return "kube-system/fake" }

// TestObservedLock: a missing lease and a lost race are normal; other
// failures are what leaderhub_controller_lease_failing reports, until a success.
func TestObservedLock(t *testing.T) {
	gr := schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}
	for _, tc := range []struct {
		err    error
		failed bool
	}{
		{nil, false},
		{apierrors.NewNotFound(gr, "x"), false},
		{apierrors.NewConflict(gr, "x", errors.New("raced")), false},
		{apierrors.NewAlreadyExists(gr, "x"), false},
		{apierrors.NewForbidden(gr, "x", errors.New("no RBAC")), true},
		{errors.New("connection refused"), true},
	} {
		l := &observedLock{Interface: fakeLock{err: tc.err}}
		_, _, _ = l.Get(context.Background())
		if got := l.lastError() != nil; got != tc.failed {
			t.Errorf("after %v: failed %t, want %t", tc.err, got, tc.failed)
		}
	}
	l := &observedLock{Interface: fakeLock{err: errors.New("down")}}
	_ = l.Update(context.Background(), resourcelock.LeaderElectionRecord{})
	l.Interface = fakeLock{}
	_, _, _ = l.Get(context.Background())
	if err := l.lastError(); err != nil {
		t.Errorf("a success did not clear the failure: %v", err)
	}
}
