package version

import (
	"fmt"
	"runtime"

	apimachineryversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/component-base/metrics"

	"github.com/leaderhub/leaderhub/pkg/instancemetrics"
)

// Stamped at link time by the Makefile (-ldflags "-X <this package>.gitVersion=...");
// a plain `go build` leaves these defaults, which say so.
var (
	gitVersion   = "v0.0.0-unstamped"
	gitCommit    = "unknown"
	gitTreeState = "unknown"
	buildDate    = "1970-01-01T00:00:00Z"
)

// Get returns the stamp of the running binary.
func Get() apimachineryversion.Info {
	return apimachineryversion.Info{
		GitVersion:   gitVersion,
		GitCommit:    gitCommit,
		GitTreeState: gitTreeState,
		BuildDate:    buildDate,
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     fmt.Sprintf("%s/%s", runtime.GOOS, runtime.GOARCH),
	}
}

// RegisterBuildInfo registers the leaderhub_build_info gauge with r: always
// 1, its labels the stamp. A process registers it once (main does).
func RegisterBuildInfo(r instancemetrics.Registry) {
	g := metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace:      "leaderhub",
		Name:           "build_info",
		Help:           "Always 1; its labels say which leaderhub-apiserver build is running.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"version", "revision", "goversion"})
	r.MustRegister(g)
	// A component-base metric records values only once registered.
	info := Get()
	g.WithLabelValues(info.GitVersion, info.GitCommit, info.GoVersion).Set(1)
}
