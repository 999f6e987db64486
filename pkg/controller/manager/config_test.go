package manager

import (
	"strings"
	"testing"
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
		got, err := controllerEnabled(tc.flags, tc.controller)
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

// TestParseControllers: both controllers are resolved from one list, and an
// unknown name is an error whichever controller is asked about first.
func TestParseControllers(t *testing.T) {
	for _, tc := range []struct {
		flags                  []string
		materialize, hubLeader bool
		wantErr                bool
	}{
		{flags: []string{"*"}, materialize: true},
		{flags: []string{"*", "hubleader"}, materialize: true, hubLeader: true},
		{flags: []string{"hubleader"}, hubLeader: true},
		{flags: []string{"-materialize", "hubleader"}, hubLeader: true},
		{flags: []string{"*", "bogus"}, wantErr: true},
	} {
		m, h, err := ParseControllers(tc.flags)
		if (err != nil) != tc.wantErr || m != tc.materialize || h != tc.hubLeader {
			t.Errorf("%v: materialize %t, hubleader %t, err %v; want %t, %t, error %t", tc.flags, m, h, err,
				tc.materialize, tc.hubLeader, tc.wantErr)
		}
	}
}
