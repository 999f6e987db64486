package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOptionsValidate: the defaults are valid, and each bad flag is named.
func TestOptionsValidate(t *testing.T) {
	valid := func() *Options {
		o := NewOptions()
		o.Complete()
		return o
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"namespace", func(o *Options) { o.Namespace = "Not_A_Namespace" }, "--namespace"},
		{"port", func(o *Options) { o.LeaderHubPort = 0 }, "--leader-hub-port 0"},
		{"watch buffer", func(o *Options) { o.WatcherBuffer = 0 }, "--watch-buffer"},
		{"materialize", func(o *Options) { o.Materialize = []string{"endpoints", "secrets"} }, `unknown form "secrets"`},
		{"controllers", func(o *Options) { o.Controllers = []string{"nope"} }, `unknown controller "nope"`},
		{"qps", func(o *Options) { o.KubeAPIQPS = 0 }, "--kube-api-qps"},
		{"workers", func(o *Options) { o.ControllerWorkers = 0 }, "--controller-workers"},
		{"resync", func(o *Options) { o.ControllerResync = -time.Second }, "--controller-resync-period"},
	} {
		o := valid()
		tc.edit(o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one naming %q", tc.name, err, tc.want)
		}
	}
	// Complete: one kubeconfig serves delegated authn and authz, and the
	// lease lives in leaderhub's namespace.
	o := NewOptions()
	o.Recommended.CoreAPI.CoreAPIKubeconfigPath, o.Namespace = "/k", "lh"
	o.Complete()
	if o.Recommended.Authentication.RemoteKubeConfigFile != "/k" || o.Recommended.Authorization.RemoteKubeConfigFile != "/k" ||
		o.ControllerLease.ResourceNamespace != "lh" {
		t.Errorf("Complete: %q %q %q", o.Recommended.Authentication.RemoteKubeConfigFile,
			o.Recommended.Authorization.RemoteKubeConfigFile, o.ControllerLease.ResourceNamespace)
	}
}

// TestConfigNeedsValidation: Config builds only from options Validate
// passed, since it uses what Validate parsed.
func TestConfigNeedsValidation(t *testing.T) {
	o := NewOptions()
	o.Complete()
	if _, err := o.Config(); err == nil || !strings.Contains(err.Error(), "not validated") {
		t.Errorf("Config of unvalidated options: %v, want an error", err)
	}
	o.Controllers = []string{"*", "hubleader"}
	o.Materialize = []string{"endpoints", "configmap"}
	// Logging options apply once per process; another test applied them.
	if err := o.Validate(); err != nil && !strings.Contains(err.Error(), "logging configuration was already applied") {
		t.Fatal(err)
	}
	if !o.parsed.materialize || !o.parsed.hubLeader || len(o.parsed.forms) != 2 {
		t.Errorf("Validate parsed %+v", o.parsed)
	}
}

// TestSelfSignedCertDir: run without --tls-cert-file or --cert-dir, the
// self-signed pair goes to a new temporary directory, never the working
// directory (k8s.io/apiserver's default was ./apiserver.local.config); with
// either flag set, nothing changes.
func TestSelfSignedCertDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Chdir(t.TempDir())
	for _, tc := range []struct {
		name          string
		certFile, dir string
		wantTemporary bool
	}{
		{name: "neither", wantTemporary: true},
		{name: "--cert-dir", dir: "/etc/lh"},
		{name: "--tls-cert-file", certFile: "/etc/lh/tls.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			cert := &o.Recommended.SecureServing.ServerCert
			cert.CertKey.CertFile, cert.CertKey.KeyFile, cert.CertDirectory = tc.certFile, "", tc.dir
			if tc.certFile != "" {
				cert.CertKey.KeyFile = strings.TrimSuffix(tc.certFile, ".crt") + ".key"
			}
			if err := o.selfSignedCertDir(); err != nil {
				t.Fatal(err)
			}
			if !tc.wantTemporary {
				if cert.CertDirectory != tc.dir || cert.CertKey.CertFile != tc.certFile {
					t.Errorf("cert dir %q, cert file %q changed", cert.CertDirectory, cert.CertKey.CertFile)
				}
				return
			}
			if filepath.Dir(cert.CertDirectory) != tmp {
				t.Fatalf("cert dir %q, want a new directory in %s", cert.CertDirectory, tmp)
			}
			if err := o.Recommended.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", nil, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(cert.CertKey.CertFile); err != nil || filepath.Dir(cert.CertKey.CertFile) != cert.CertDirectory {
				t.Errorf("self-signed certificate %q: %v", cert.CertKey.CertFile, err)
			}
			if entries, _ := os.ReadDir("."); len(entries) != 0 {
				t.Errorf("the working directory holds %v", entries)
			}
		})
	}
}
