package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
