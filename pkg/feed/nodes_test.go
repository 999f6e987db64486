package feed

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/test/fixtures"
)

func TestNewNode(t *testing.T) {
	full := fixtures.WithLabels(fixtures.Node("n1", "p", true, "10.0.0.1", "fd00::1"),
		map[string]string{corev1.LabelHostname: "n1", "lead": "yes", "zone": "z1"})
	full.Status.Addresses = append(full.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: "n1"},
		corev1.NodeAddress{Type: corev1.NodeInternalIP})
	n := NewNode(full)
	if n.Name() != "n1" || n.Pool() != "p" || !n.Ready() || !n.ReadySince().Equal(fixtures.ConditionsSince.Time) ||
		!slices.Equal(n.InternalIPs(), []string{"10.0.0.1", "fd00::1"}) {
		t.Errorf("read %+v: name %q pool %q ready %t since %v ips %v", n, n.Name(), n.Pool(), n.Ready(), n.ReadySince(), n.InternalIPs())
	}
	for k, v := range full.Labels {
		if got, ok := n.Lookup(k); !ok || got != v || !n.Has(k) || n.Get(k) != v {
			t.Errorf("label %s: %q, %t; want %q", k, got, ok, v)
		}
	}
	if n.Has("missing") || n.Get("missing") != "" || n.labelCount() != len(full.Labels) {
		t.Errorf("a label it does not have, or %d labels for %d", n.labelCount(), len(full.Labels))
	}

	// Nodes of a pool share their labels' one string, the hostname aside.
	other := fixtures.WithLabels(fixtures.Node("n2", "p", true, "10.0.0.2"),
		map[string]string{corev1.LabelHostname: "n2", "lead": "yes", "zone": "z1"})
	if m := NewNode(other); m.labels != n.labels || m.pool != n.pool {
		t.Error("two Nodes with the same labels do not share them")
	}
	// A hostname label that is not the name is a label like any other.
	odd := fixtures.WithLabels(fixtures.Node("n3", "p", true), map[string]string{corev1.LabelHostname: "host-3"})
	if m := NewNode(odd); m.Get(corev1.LabelHostname) != "host-3" {
		t.Errorf("hostname %q", m.Get(corev1.LabelHostname))
	}
	// No pool label, no Ready condition, no address.
	bare := NewNode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "bare"}})
	if bare.Pool() != "" || bare.Has(appsv1beta2.LabelNodePool) || bare.Ready() || !bare.ReadySince().IsZero() ||
		bare.InternalIPs() != nil || bare.labelCount() != 0 {
		t.Errorf("bare Node read as %+v", bare)
	}
	// An empty pool label is there, and names no pool.
	empty := NewNode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "e", Labels: map[string]string{appsv1beta2.LabelNodePool: ""}}})
	if !empty.Has(appsv1beta2.LabelNodePool) || empty.Pool() != "" {
		t.Error("an empty pool label")
	}
}

// TestSameAs: a Node as kube-apiserver sends it reads the same exactly when
// nothing leaderhub keeps changed.
func TestSameAs(t *testing.T) {
	base := fixtures.WithLabels(fixtures.Node("n1", "p", true, "10.0.0.1", "fd00::1"),
		map[string]string{corev1.LabelHostname: "n1", "zone": "z1"})
	kept := NewNode(base)
	tests := []struct {
		name   string
		change func(n *corev1.Node)
		same   bool
	}{
		{"nothing", func(*corev1.Node) {}, true},
		{"heartbeat", func(n *corev1.Node) {
			n.ResourceVersion = "99"
			n.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(time.Now().Add(time.Minute))
			n.Status.Images = []corev1.ContainerImage{{Names: []string{"image"}}}
			n.Annotations = map[string]string{"a": "b"}
		}, true},
		{"a hostname address", func(n *corev1.Node) {
			n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: "n1"})
		}, true},
		{"NotReady", func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }, false},
		{"Ready since another time", func(n *corev1.Node) {
			n.Status.Conditions[0].LastTransitionTime = metav1.NewTime(time.Now())
		}, false},
		{"no Ready condition", func(n *corev1.Node) { n.Status.Conditions = nil }, false},
		{"new IP", func(n *corev1.Node) { n.Status.Addresses[0].Address = "10.0.0.9" }, false},
		{"IPs reordered", func(n *corev1.Node) { slices.Reverse(n.Status.Addresses) }, false},
		{"an IP fewer", func(n *corev1.Node) { n.Status.Addresses = n.Status.Addresses[:1] }, false},
		{"an IP more", func(n *corev1.Node) {
			n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.3"})
		}, false},
		{"other pool", func(n *corev1.Node) { n.Labels[appsv1beta2.LabelNodePool] = "q" }, false},
		{"pool label removed", func(n *corev1.Node) { delete(n.Labels, appsv1beta2.LabelNodePool) }, false},
		{"pool label removed, another added", func(n *corev1.Node) {
			delete(n.Labels, appsv1beta2.LabelNodePool)
			n.Labels["x"] = "p"
		}, false},
		{"hostname changed", func(n *corev1.Node) { n.Labels[corev1.LabelHostname] = "n2" }, false},
		{"label value", func(n *corev1.Node) { n.Labels["zone"] = "z2" }, false},
		{"label added", func(n *corev1.Node) { n.Labels["lead"] = "yes" }, false},
		{"label removed", func(n *corev1.Node) { delete(n.Labels, "zone") }, false},
		{"label renamed", func(n *corev1.Node) { delete(n.Labels, "zone"); n.Labels["zona"] = "z1" }, false},
		{"renamed", func(n *corev1.Node) { n.Name = "n9" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := base.DeepCopy()
			tt.change(n)
			if got := kept.SameAs(n); got != tt.same {
				t.Errorf("SameAs = %t, want %t", got, tt.same)
			}
			if got := kept.Same(NewNode(n)); got != tt.same {
				t.Errorf("Same = %t, want %t", got, tt.same)
			}
		})
	}
}

// cacheJournal records what a Node cache tells its handler.
type cacheJournal []string

func (j *cacheJournal) handler(old, new *Node) {
	name := func(n *Node) string {
		if n == nil {
			return "-"
		}
		return fmt.Sprintf("%s@%s", n.Name(), n.Pool())
	}
	*j = append(*j, name(old)+">"+name(new))
}

func (j *cacheJournal) take() string {
	defer func() { *j = nil }()
	slices.Sort(*j)
	return strings.Join(*j, " ")
}

func TestNodeCache(t *testing.T) {
	c := NewNodeCache()
	var j cacheJournal
	c.AddHandler(j.handler)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check := func(step, want string) {
		t.Helper()
		if got := j.take(); got != want {
			t.Errorf("%s: told %q, want %q", step, got, want)
		}
	}
	members := func(pool string) []string {
		var names []string
		for _, n := range c.InPool(pool) {
			names = append(names, n.Name())
		}
		slices.Sort(names)
		return names
	}

	if c.HasSynced() {
		t.Error("synced before its first list")
	}
	// The first list, as a watch-list delivers it (already transformed)
	// and as a list does (whole Nodes).
	n3, _ := c.Transformer()(fixtures.Node("n3", "q", true, "10.0.0.3"))
	must(c.Replace([]interface{}{fixtures.Node("n1", "p", true, "10.0.0.1"), fixtures.Node("n2", "p", false), n3}, "10"))
	check("first list", "->n1@p ->n2@p ->n3@q")
	if !c.HasSynced() || c.Len() != 3 || !slices.Equal(members("p"), []string{"n1", "n2"}) {
		t.Errorf("after the list: synced %t, %d Nodes, pool p %v", c.HasSynced(), c.Len(), members("p"))
	}

	// A heartbeat is dropped: nothing told, the Node kept is the same.
	before, _ := c.Get("n1")
	beat := fixtures.Node("n1", "p", true, "10.0.0.1")
	beat.ResourceVersion = "11"
	must(c.Update(beat))
	check("heartbeat", "")
	if after, _ := c.Get("n1"); after != before {
		t.Error("a heartbeat replaced the Node kept")
	}

	// A move: both pools' indexes follow.
	must(c.Update(fixtures.Node("n2", "q", false)))
	check("move", "n2@p>n2@q")
	if !slices.Equal(members("p"), []string{"n1"}) || !slices.Equal(members("q"), []string{"n2", "n3"}) {
		t.Errorf("after the move: p %v, q %v", members("p"), members("q"))
	}
	if pool, ok, err := c.PoolOf("n2"); pool != "q" || !ok || err != nil {
		t.Errorf("PoolOf(n2) = %q, %t, %v", pool, ok, err)
	}

	// Deleted, also as a DeletedFinalStateUnknown; a Node without a pool.
	must(c.Delete(cache.DeletedFinalStateUnknown{Key: "n3", Obj: fixtures.Node("n3", "q", true)}))
	must(c.Add(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "loner"}}))
	check("delete, add", "->loner@ n3@q>-")
	if _, ok, _ := c.PoolOf("loner"); ok {
		t.Error("a Node with no pool label has a pool")
	}
	if _, ok, _ := c.PoolOf("nobody"); ok {
		t.Error("an unknown Node has a pool")
	}
	must(c.Delete(fixtures.Node("nobody", "p", true)))
	check("deleting an unknown Node", "")

	// A relist tells only what changed, and keeps what did not.
	kept, _ := c.Get("n1")
	must(c.Replace([]interface{}{fixtures.Node("n1", "p", true, "10.0.0.1"), fixtures.Node("n4", "p", true)}, "20"))
	check("relist", "->n4@p loner@>- n2@q>-")
	if again, _ := c.Get("n1"); again != kept || len(c.InPool("q")) != 0 {
		t.Error("the relist replaced a Node that did not change, or kept a deleted pool's index")
	}

	// Something else is refused with an error, and nothing is lost.
	if err := c.Update("not a node"); err == nil || !strings.Contains(err.Error(), "string") {
		t.Errorf("storing a string: %v", err)
	}
	if err := c.Delete(42); err == nil {
		t.Error("deleting an int: no error")
	}
	if c.Len() != 2 {
		t.Errorf("%d Nodes after refused writes", c.Len())
	}
}
