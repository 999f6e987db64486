package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/tools/cache"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
	"github.com/leaderhub/leaderhub/pkg/authorizer/nodepool"
)

// requestsJudgeable says whether leaderhub can tell who a request is from
// and what it may do, so that its answers are verdicts. Until then
// k8s.io/apiserver serves, but:
//   - the front-proxy CA, with which it trusts the user kube-apiserver's
//     aggregation layer names, loads from the kube-system/extension-apiserver-
//     authentication ConfigMap through an informer after serving starts, and
//     a proxied request that arrives first is anonymous, and so forbidden;
//   - the node authorizer's Node cache may not have synced, and a node whose
//     Node is not in it yet would be denied.
//
// Both last a fraction of a second after start.
type requestsJudgeable struct {
	// frontProxyCA is nil when request-header authentication is off.
	frontProxyCA *authenticatorfactory.RequestHeaderConfig
	// nodes is nil without node authorization.
	nodes cache.InformerSynced
}

// notYet says what leaderhub still waits for; nil once it can judge requests.
func (r requestsJudgeable) notYet() error {
	var missing []string
	if r.frontProxyCA != nil && r.frontProxyCA.CAContentProvider != nil {
		if _, ok := r.frontProxyCA.CAContentProvider.VerifyOptions(); !ok {
			missing = append(missing, "the front-proxy CA (requestheader-client-ca-file of kube-system/extension-apiserver-authentication) has not loaded")
		}
	}
	if r.nodes != nil && !r.nodes() {
		missing = append(missing, "the Node cache for node authorization has not synced")
	}
	if len(missing) == 0 {
		return nil
	}
	return errors.New(strings.Join(missing, "; "))
}

// readyzCheck keeps /readyz failing until requests can be judged.
func (r requestsJudgeable) readyzCheck() healthz.HealthChecker {
	return healthz.NamedCheck("requests-judgeable", func(*http.Request) error { return r.notYet() })
}

// healthPaths are answered while leaderhub starts: probes must see why.
var healthPaths = nodepool.PathsAuthorizer("/healthz", "/livez", "/readyz")

func isHealthPath(req *http.Request) bool {
	d, _, _ := healthPaths.Authorize(req.Context(), authorizer.AttributesRecord{Verb: "get", Path: req.URL.Path})
	return d == authorizer.DecisionAllow
}

// withStartupGate answers every request but the health probes 503 with
// Retry-After: 1 until requests can be judged, so that no client is told
// 401 or 403, which it would take as a verdict, for a request made in the
// moment leaderhub starts; client-go retries a 503 with Retry-After.
func (r requestsJudgeable) withStartupGate(handler http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if isHealthPath(req) {
			handler.ServeHTTP(w, req)
			return
		}
		if err := r.notYet(); err != nil {
			status := &apierrors.StatusError{ErrStatus: metav1.Status{
				Status: metav1.StatusFailure, Code: http.StatusServiceUnavailable, Reason: metav1.StatusReasonServiceUnavailable,
				Message: fmt.Sprintf("leaderhub is starting and cannot yet authenticate or authorize requests: %v", err),
				Details: &metav1.StatusDetails{RetryAfterSeconds: 1},
			}}
			responsewriters.ErrorNegotiated(status, Codecs, v1alpha1.SchemeGroupVersion, w, req)
			return
		}
		handler.ServeHTTP(w, req)
	})
}

// buildHandlerChain is k8s.io/apiserver's handler chain behind the gate.
func (r requestsJudgeable) buildHandlerChain(apiHandler http.Handler, c *genericapiserver.Config) http.Handler {
	return r.withStartupGate(genericapiserver.DefaultBuildHandlerChain(apiHandler, c))
}
