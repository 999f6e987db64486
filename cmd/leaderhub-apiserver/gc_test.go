package main

import (
	"os"
	"runtime/debug"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/leaderhub/leaderhub/pkg/server"
)

// TestDefaultGCPercent: leaderhub's GC target applies only when GOGC is
// unset; a GOGC the runtime read at start stays.
func TestDefaultGCPercent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		gogc    *string
		atStart int // the GC percent the runtime starts with
		want    int
	}{
		{"GOGC unset", nil, 100, server.DefaultGCPercent},
		{"GOGC set", ptr.To("80"), 80, 80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.gogc == nil {
				t.Setenv("GOGC", "") // restored after the test
				if err := os.Unsetenv("GOGC"); err != nil {
					t.Fatal(err)
				}
			} else {
				t.Setenv("GOGC", *tc.gogc)
			}
			orig := debug.SetGCPercent(tc.atStart)
			defer debug.SetGCPercent(orig)
			setDefaultGCPercent()
			if got := debug.SetGCPercent(tc.atStart); got != tc.want {
				t.Errorf("GC percent = %d, want %d", got, tc.want)
			}
		})
	}
}
