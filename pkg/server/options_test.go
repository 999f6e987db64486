package server

import (
	"strings"
	"testing"
	"time"
)

func TestControllersEnabled(t *testing.T) {
	for _, tc := range []struct {
		flags      []string
		controller string
		want       bool
		wantErr    string
	}{
		{flags: []string{"*"}, controller: ControllerMaterialize, want: true},
		{flags: []string{"materialize"}, controller: ControllerMaterialize, want: true},
		{flags: []string{"*", "-materialize"}, controller: ControllerMaterialize, want: false},
		{flags: []string{"-materialize", "*"}, controller: ControllerMaterialize, want: false},
		{flags: nil, controller: ControllerMaterialize, want: false},
		{flags: []string{"-materialize"}, controller: ControllerMaterialize, want: false},
		// hubleader is opt-in: "*" alone leaves it off.
		{flags: []string{"*"}, controller: ControllerHubLeader, want: false},
		{flags: []string{"*", "hubleader"}, controller: ControllerHubLeader, want: true},
		{flags: []string{"*", "hubleader"}, controller: ControllerMaterialize, want: true},
		{flags: []string{"hubleader"}, controller: ControllerMaterialize, want: false},
		{flags: []string{"*", "hubleader", "-hubleader"}, controller: ControllerHubLeader, want: false},
		{flags: []string{"*", "hubleaders"}, controller: ControllerHubLeader, wantErr: `unknown controller "hubleaders"`},
		{flags: []string{"-bogus"}, controller: ControllerMaterialize, wantErr: `unknown controller "-bogus"`},
	} {
		got, err := controllersEnabled(tc.flags, tc.controller)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err %v, want %q", tc.flags, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v %s: %t, %v; want %t", tc.flags, tc.controller, got, err, tc.want)
		}
	}
}

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
		o.LeaderElection.ResourceNamespace != "lh" {
		t.Errorf("Complete: %q %q %q", o.Recommended.Authentication.RemoteKubeConfigFile,
			o.Recommended.Authorization.RemoteKubeConfigFile, o.LeaderElection.ResourceNamespace)
	}
}
