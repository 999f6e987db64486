package main

import (
	"os"
	"runtime/debug"

	"k8s.io/klog/v2"

	"github.com/leaderhub/leaderhub/pkg/server"
)

// setDefaultGCPercent applies server.DefaultGCPercent unless GOGC is set.
// It changes the whole process, so main does it, never package server.
func setDefaultGCPercent() {
	if v, set := os.LookupEnv("GOGC"); set {
		klog.InfoS("Using the GC target GOGC sets", "GOGC", v)
		return
	}
	debug.SetGCPercent(server.DefaultGCPercent)
	klog.InfoS("GOGC is not set; using leaderhub's GC target", "gcPercent", server.DefaultGCPercent)
}
