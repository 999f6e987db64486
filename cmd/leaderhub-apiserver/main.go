// Command leaderhub-apiserver serves the leaderhub.openyurt.io aggregated
// API. It only builds the command line; package server runs it.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"
	genericapiserver "k8s.io/apiserver/pkg/server"
	cliflag "k8s.io/component-base/cli/flag"
	_ "k8s.io/component-base/logs/json/register" // --logging-format=json
	"k8s.io/klog/v2"

	"github.com/leaderhub/leaderhub/pkg/instancemetrics"
	"github.com/leaderhub/leaderhub/pkg/server"
	"github.com/leaderhub/leaderhub/pkg/version"
)

const program = "leaderhub-apiserver"

func main() {
	opts := server.NewOptions()
	sections := opts.Flags()
	var versionRequest version.Request
	version.AddFlag(sections.FlagSet("global"), &versionRequest)
	fs := pflag.NewFlagSet(program, pflag.ContinueOnError)
	fs.SetNormalizeFunc(cliflag.WordSepNormalizeFunc)
	for _, name := range sections.Order {
		fs.AddFlagSet(sections.FlagSets[name])
	}
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "leaderhub-apiserver serves leaderhub.openyurt.io/v1alpha1 LeaderHubs, one per OpenYurt NodePool,\n"+
			"as an aggregated API of kube-apiserver.\n\nUsage:\n  leaderhub-apiserver [flags]\n")
		cliflag.PrintSections(os.Stderr, sections, 100)
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if version.Print(os.Stdout, program, versionRequest) {
		os.Exit(0)
	}
	cliflag.PrintFlags(fs)
	opts.Complete()
	if err := opts.Validate(); err != nil {
		klog.ErrorS(err, "Invalid options")
		klog.FlushAndExit(klog.ExitFlushTimeout, 1)
	}
	// The first line in the configured log format says which build runs.
	info := version.Get()
	klog.InfoS("Starting "+program, "version", info.GitVersion, "revision", info.GitCommit,
		"buildDate", info.BuildDate, "goversion", info.GoVersion, "platform", info.Platform)
	setDefaultGCPercent()
	version.RegisterBuildInfo(instancemetrics.Legacy())

	ctx := genericapiserver.SetupSignalContext()
	if err := server.Run(ctx, opts); err != nil {
		klog.ErrorS(err, "leaderhub-apiserver failed")
		klog.FlushAndExit(klog.ExitFlushTimeout, 1)
	}
	klog.Flush()
}
