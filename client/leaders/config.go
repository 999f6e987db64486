package leaders

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Source is where a Config came from.
type Source string

const (
	SourceView          Source = "view"
	SourceEndpointSlice Source = "endpointslice"
	SourceEndpoints     Source = "endpoints"
	SourceConfigMap     Source = "configmap"
	// SourceCache is the cache file, before any source answered.
	SourceCache Source = "cache"
)

// DefaultSources is the order sources are tried in, best first.
var DefaultSources = []Source{SourceView, SourceEndpointSlice, SourceEndpoints, SourceConfigMap}

// Leader is one leader YurtHub of the pool.
type Leader struct {
	NodeName string `json:"nodeName"`
	IP       string `json:"ip"`
	// URL is the leader's dial-ready address, https://<ip>:<port>, with an
	// IPv6 address in brackets (net.JoinHostPort).
	URL string `json:"url"`
}

// Config is what an edge agent needs of its pool.
type Config struct {
	Pool string `json:"pool"`
	// Exists is false when the pool has no leader-hub object: the pool is
	// gone (or not published), and so are its leaders.
	Exists bool `json:"exists"`
	// Leaders are sorted by node name.
	Leaders              []Leader                      `json:"leaders,omitempty"`
	PoolScopedMetadata   []schema.GroupVersionResource `json:"poolScopedMetadata,omitempty"`
	InterConnectivity    bool                          `json:"interConnectivity"`
	EnableLeaderElection bool                          `json:"enableLeaderElection"`

	// Source, ResourceVersion and Stale say where the Config was read; they
	// are not its content.
	Source          Source `json:"source"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// Stale is true for a Config served from the cache file before any
	// source answered.
	Stale bool `json:"stale,omitempty"`
}

// SameContent reports whether two Configs say the same about the pool,
// wherever they were read.
func (c *Config) SameContent(o *Config) bool {
	return c.Pool == o.Pool && c.Exists == o.Exists && slices.Equal(c.Leaders, o.Leaders) &&
		slices.Equal(c.PoolScopedMetadata, o.PoolScopedMetadata) &&
		c.InterConnectivity == o.InterConnectivity && c.EnableLeaderElection == o.EnableLeaderElection
}

// LeaderURL is a leader's URL: https, the address, the port, with an IPv6
// address bracketed.
func LeaderURL(ip string, port int32) string {
	return "https://" + net.JoinHostPort(ip, strconv.Itoa(int(port)))
}

// newLeader builds a Leader.
func newLeader(node, ip string, port int32) Leader {
	return Leader{NodeName: node, IP: ip, URL: LeaderURL(ip, port)}
}

func sortLeaders(ls []Leader) {
	slices.SortFunc(ls, func(a, b Leader) int {
		if c := strings.Compare(a.NodeName, b.NodeName); c != 0 {
			return c
		}
		return strings.Compare(a.IP, b.IP)
	})
}

// parseMetadata reads the pool-scoped-metadata value: sorted, comma-joined
// group/version/resource, the core group empty. Malformed entries are
// skipped.
func parseMetadata(v string) []schema.GroupVersionResource {
	var out []schema.GroupVersionResource
	for entry := range strings.SplitSeq(v, ",") {
		parts := strings.Split(strings.TrimSpace(entry), "/")
		if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
			continue
		}
		out = append(out, schema.GroupVersionResource{Group: parts[0], Version: parts[1], Resource: parts[2]})
	}
	return out
}
