package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/leaderhub/leaderhub/test/framework"
)

var apiServices = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// TestAPIServiceVerifiesTLS: the registered APIService verifies leaderhub
// with caBundle (no insecureSkipTLSVerify) and is Available; with a wrong CA
// it turns unavailable and says why; with the right one it recovers.
func TestAPIServiceVerifiesTLS(t *testing.T) {
	lh := sharedView(t)
	ctx := testContext(t, 3*time.Minute)
	dyn := dynamic.NewForConfigOrDie(adminConfig(t)).Resource(apiServices)
	live, err := dyn.Get(ctx, framework.APIServiceName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if skip, found, _ := unstructured.NestedBool(live.Object, "spec", "insecureSkipTLSVerify"); found && skip {
		t.Error("the APIService skips TLS verification")
	}
	if ca, _, _ := unstructured.NestedString(live.Object, "spec", "caBundle"); ca == "" {
		t.Error("the APIService has no caBundle")
	}
	if status, msg, _ := controlPlane.APIServiceAvailable(ctx); status != "True" {
		t.Fatalf("APIService not Available: %s", msg)
	}

	// A CA that did not sign leaderhub's certificate.
	wrong, err := framework.NewCertAuthority(t.TempDir(), "wrong-ca", "not-leaderhubs-ca")
	if err != nil {
		t.Fatal(err)
	}
	wrongPEM, _ := os.ReadFile(wrong.CertFile)
	live.Object["spec"].(map[string]interface{})["caBundle"] = base64.StdEncoding.EncodeToString(wrongPEM)
	if _, err := dyn.Update(ctx, live, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := controlPlane.RegisterAPIService(context.Background(), lh); err != nil {
			t.Errorf("restoring the APIService: %v", err)
		}
	}()
	var status, msg string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		status, msg, _ = controlPlane.APIServiceAvailable(ctx)
		return status == "False", nil
	})
	if err != nil {
		t.Fatalf("with a wrong caBundle the APIService stayed %s: %s", status, msg)
	}
	if !strings.Contains(msg, "x509") && !strings.Contains(msg, "certificate") {
		t.Errorf("unavailable without a TLS reason: %s", msg)
	}
	t.Logf("wrong caBundle: Available=False, %s", msg)
	if _, err := controlPlane.Kubectl(ctx, "get", "lh", "-n", viewNS); err == nil {
		t.Error("kubectl reached leaderhub through an APIService with a wrong CA")
	}
}

// servedSerial returns the serial number of the certificate lh serves.
func servedSerial(t *testing.T, lh *framework.LeaderHub) string {
	t.Helper()
	caPEM, _ := os.ReadFile(lh.CA.CertFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", strings.TrimPrefix(lh.URL, "https://"),
		&tls.Config{RootCAs: pool, ServerName: "leaderhub.kube-system.svc"})
	if err != nil {
		t.Fatalf("TLS to leaderhub as leaderhub.kube-system.svc: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestServingCertificateReload: replacing the serving certificate files
// changes what leaderhub serves, without a restart.
func TestServingCertificateReload(t *testing.T) {
	lh := startInNamespace(t, "leaderhub-certs", freshNamespace(t, "leaderhub-certs"), "--controllers=-materialize")
	before := servedSerial(t, lh)
	certPEM, keyPEM, err := lh.CA.IssuePEM(framework.CertSpec{CommonName: "leaderhub-rotated", Server: true,
		DNSNames: []string{"leaderhub.kube-system.svc", "localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lh.Serving.KeyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lh.Serving.CertFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	var after string
	err = wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 90*time.Second, true, func(context.Context) (bool, error) {
		after = servedSerial(t, lh)
		return after != before, nil
	})
	if err != nil {
		t.Fatalf("leaderhub still serves certificate %s after the files changed", before)
	}
	if lh.Process.Exited() {
		t.Fatalf("leaderhub exited while its certificate was replaced:\n%s", lh.Process.Tail(4096))
	}
	t.Logf("serving certificate %s replaced by %s without a restart", before, after)
}
