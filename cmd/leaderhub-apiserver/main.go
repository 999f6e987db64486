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
	"k8s.io/klog/v2"

	"github.com/leaderhub/leaderhub/pkg/server"
)

func main() {
	opts := server.NewOptions()
	sections := opts.Flags()
	fs := pflag.NewFlagSet("leaderhub-apiserver", pflag.ContinueOnError)
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
	cliflag.PrintFlags(fs)
	setDefaultGCPercent()

	ctx := genericapiserver.SetupSignalContext()
	if err := server.Run(ctx, opts); err != nil {
		klog.ErrorS(err, "leaderhub-apiserver failed")
		klog.FlushAndExit(klog.ExitFlushTimeout, 1)
	}
	klog.Flush()
}
