package version

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/testutil"
)

func TestVersionFlag(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    string // substring of the output; "" = nothing printed
		wantErr bool
	}{
		{args: nil},
		{args: []string{"--version=false"}},
		{args: []string{"--version"}, want: "leaderhub-apiserver " + gitVersion + "\n"},
		{args: []string{"--version=true"}, want: "leaderhub-apiserver " + gitVersion + "\n"},
		{args: []string{"--version=raw"}, want: `GitCommit:"` + gitCommit + `"`},
		{args: []string{"--version=v1.2.3"}, wantErr: true},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			fs.SetOutput(&bytes.Buffer{})
			var r Request
			AddFlag(fs, &r)
			err := fs.Parse(tc.args)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Parse(%v) = %v, want error %v", tc.args, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var out bytes.Buffer
			printed := Print(&out, "leaderhub-apiserver", r)
			if printed != (tc.want != "") || !strings.Contains(out.String(), tc.want) {
				t.Errorf("Print = %v, %q; want %q", printed, out.String(), tc.want)
			}
		})
	}
}

func TestBuildInfo(t *testing.T) {
	reg := metrics.NewKubeRegistry()
	RegisterBuildInfo(reg)
	info := Get()
	want := `# HELP leaderhub_build_info [ALPHA] Always 1; its labels say which leaderhub-apiserver build is running.
# TYPE leaderhub_build_info gauge
leaderhub_build_info{goversion="` + info.GoVersion + `",revision="` + info.GitCommit + `",version="` + info.GitVersion + `"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "leaderhub_build_info"); err != nil {
		t.Error(err)
	}
}
