package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// TestStartupGate: until requests can be judged, everything but the health
// probes gets 503 with Retry-After and a reason; then requests pass.
func TestStartupGate(t *testing.T) {
	synced := false
	gate := requestsJudgeable{nodes: func() bool { return synced }}
	handler := gate.withStartupGate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	serve := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	for _, path := range []string{"/readyz", "/livez", "/healthz/ping", "/readyz/requests-judgeable"} {
		if rec := serve(path); rec.Code != http.StatusTeapot {
			t.Errorf("%s while starting: %d, want it served", path, rec.Code)
		}
	}
	for _, path := range []string{"/apis/leaderhub.openyurt.io/v1alpha1/leaderhubs", "/metrics", "/readyzz"} {
		rec := serve(path)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" ||
			!strings.Contains(rec.Body.String(), "Node cache") {
			t.Errorf("%s while starting: %d, Retry-After %q, body %s", path, rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
	}
	if err := gate.readyzCheck().Check(nil); err == nil {
		t.Error("readyz passes while the Node cache has not synced")
	}
	synced = true
	if rec := serve("/apis/leaderhub.openyurt.io/v1alpha1/leaderhubs"); rec.Code != http.StatusTeapot {
		t.Errorf("after start: %d, want it served", rec.Code)
	}
	if err := gate.readyzCheck().Check(nil); err != nil {
		t.Errorf("readyz after start: %v", err)
	}
}

// fakeLock answers every call with err.
type fakeLock struct {
	resourcelock.Interface
	err error
}

func (f fakeLock) Get(context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	return nil, nil, f.err
}
func (f fakeLock) Update(context.Context, resourcelock.LeaderElectionRecord) error { return f.err }

// TestObservedLock: a missing lease and a lost race are normal; other
// failures are what the controller-lease check reports, until a success.
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
