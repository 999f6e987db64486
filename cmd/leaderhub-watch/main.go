// Command leaderhub-watch prints, on an edge node, its pool's leader
// YurtHubs and pool settings as client/leaders sees them, and every
// change with the source it came from.
//
// Exit codes: 0 when interrupted (SIGINT, SIGTERM), or with --once after
// printing a Config; 1 for bad flags or a kubeconfig that cannot be loaded;
// 2 when --once gets no Config within --timeout; 3 when the client stops
// with an error (a configuration error). A node without its
// pool label yet is waited for.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/leaderhub/leaderhub/client/leaders"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("leaderhub-watch", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		kubeconfig, pool, node, cacheFile, output, namespace string
		probe, timeout                                       time.Duration
		once                                                 bool
		port                                                 int32
	)
	fs.StringVar(&kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig with the node's credentials (YurtHub's, say); in-cluster when empty")
	fs.StringVar(&pool, "pool", "", "NodePool to follow")
	fs.StringVar(&node, "node", "", "node whose pool (apps.openyurt.io/nodepool label) to follow, when --pool is not given")
	fs.StringVar(&namespace, "namespace", "kube-system", "namespace of the leader-hub objects (leaderhub's --namespace)")
	fs.StringVar(&cacheFile, "cache-file", "", "keep the last Config here, and print it at start (stale) until a source answers")
	fs.StringVarP(&output, "output", "o", "text", "text or json (one object per line)")
	fs.DurationVar(&probe, "probe-interval", 30*time.Second, "how often a better source is tried while a fallback is in use")
	fs.Int32Var(&port, "leader-port", 10269, "leader port when the source carries none (the ConfigMap)")
	fs.BoolVar(&once, "once", false, "print the first Config from a source (not the cache) and exit")
	fs.DurationVar(&timeout, "timeout", 30*time.Second, "with --once, how long to wait")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if (pool == "") == (node == "") || (output != "text" && output != "json") {
		fmt.Fprintln(stderr, "leaderhub-watch: give exactly one of --pool and --node, and -o text or json")
		return 1
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		fmt.Fprintf(stderr, "leaderhub-watch: loading kubeconfig: %v\n", err)
		return 1
	}
	client, err := leaders.New(leaders.Options{Config: cfg, Pool: pool, NodeName: node, Namespace: namespace,
		LeaderPort: port, ProbeInterval: probe, CacheFile: cacheFile})
	if err != nil {
		fmt.Fprintf(stderr, "leaderhub-watch: %v\n", err)
		return 1
	}
	klog.SetOutput(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if once {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	go func() { _ = client.Run(ctx) }() // its error is client.Err once Changes is closed
	for c := range client.Changes() {
		if once && c.Stale {
			continue
		}
		printConfig(stdout, output, &c)
		if once {
			return 0
		}
	}
	if err := client.Err(); err != nil {
		fmt.Fprintf(stderr, "leaderhub-watch: %v\n", err)
		return 3
	}
	if once {
		fmt.Fprintln(stderr, "leaderhub-watch: no Config within --timeout")
		return 2
	}
	return 0
}

func printConfig(w io.Writer, output string, c *leaders.Config) {
	if output == "json" {
		data, _ := json.Marshal(c)
		fmt.Fprintln(w, string(data))
		return
	}
	stale := ""
	if c.Stale {
		stale = " (stale)"
	}
	if !c.Exists {
		fmt.Fprintf(w, "%s pool=%s source=%s%s: no leader-hub object (no leaders)\n", time.Now().Format(time.RFC3339), c.Pool, c.Source, stale)
		return
	}
	var gvrs []string
	for _, g := range c.PoolScopedMetadata {
		gvrs = append(gvrs, g.Group+"/"+g.Version+"/"+g.Resource)
	}
	var ls []string
	for _, l := range c.Leaders {
		ls = append(ls, l.NodeName+"="+l.URL)
	}
	fmt.Fprintf(w, "%s pool=%s source=%s%s leaders=%s election=%t interconnectivity=%t pool-scoped-metadata=%s\n",
		time.Now().Format(time.RFC3339), c.Pool, c.Source, stale, cmp.Or(strings.Join(ls, ","), "<none>"),
		c.EnableLeaderElection, c.InterConnectivity, cmp.Or(strings.Join(gvrs, ","), "<none>"))
}
