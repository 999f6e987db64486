// Package version is leaderhub's build stamp: the release version, the git
// revision and the build date that `make build` and `make image` write into
// the binary with -ldflags -X, and the Go version it was built with. The
// binary reports it three ways from one source: `--version` (and
// `--version=raw`), the leaderhub_build_info metric and its first log line.
package version
