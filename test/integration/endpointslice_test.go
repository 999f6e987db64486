package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
)

func sliceLeaders(es *discoveryv1.EndpointSlice) string {
	var out []string
	for _, e := range es.Endpoints {
		out = append(out, ptr.Deref(e.NodeName, "")+"/"+strings.Join(e.Addresses, "+"))
	}
	return strings.Join(out, ",")
}

// waitSlice waits until the named EndpointSlice exists and cond holds.
func waitSlice(t *testing.T, ns, name, what string, cond func(*discoveryv1.EndpointSlice) bool) *discoveryv1.EndpointSlice {
	t.Helper()
	return waitObject(t, "EndpointSlice "+ns+"/"+name, func(ctx context.Context) (*discoveryv1.EndpointSlice, error) {
		return kubeClient(t).DiscoveryV1().EndpointSlices(ns).Get(ctx, name, metav1.GetOptions{})
	}, what, cond)
}

// TestControllerEndpointSliceForm: the EndpointSlice form under the
// Endpoints form's guarantees, on the real control plane: the contract
// (labels, annotations, ready endpoints with nodeName, the https port, the
// owner), one slice per address family, found by label with kubectl; no
// write for status churn and resyncs; hand edits repaired and deleted
// slices recreated, with others' labels kept; a foreign slice with the
// name left alone; a deleted pool's slices deleted by the controller, and
// by the garbage collector when leaderhub is down.
func TestControllerEndpointSliceForm(t *testing.T) {
	ns := freshNamespace(t, "leaderhub-slices")
	lh := startInNamespace(t, "leaderhub-slices", ns, "--materialize=endpointslice", "--leader-elect=false",
		"--controller-resync-period="+controllerResync.String())
	ctx := testContext(t, 3*time.Minute)
	slices := kubeClient(t).DiscoveryV1().EndpointSlices(ns)
	// sliceGone waits until the named slice is deleted.
	sliceGone := func(name, what string, timeout time.Duration) {
		t.Helper()
		waitGone(t, func(ctx context.Context) error {
			_, err := slices.Get(ctx, name, metav1.GetOptions{})
			return err
		}, what, timeout)
	}
	np := createPool(t, "sl", leaders("s2=10.15.0.2", "s1=10.15.0.1"))
	es := waitSlice(t, ns, "leader-hub-sl-ipv4", "appeared", func(es *discoveryv1.EndpointSlice) bool {
		return sliceLeaders(es) == "s1/10.15.0.1,s2/10.15.0.2"
	})
	if es.AddressType != discoveryv1.AddressTypeIPv4 || es.Labels["openyurt.io/pool-name"] != "sl" ||
		es.Labels[discoveryv1.LabelManagedBy] != "leaderhub.openyurt.io" || es.Labels["app.kubernetes.io/managed-by"] != "leaderhub" ||
		es.Labels["service.kubernetes.io/headless"] != "" || es.Annotations["openyurt.io/pool-scoped-metadata"] != "/v1/services,discovery.k8s.io/v1/endpointslices" ||
		len(es.Ports) != 1 || ptr.Deref(es.Ports[0].Name, "") != "https" || ptr.Deref(es.Ports[0].Port, 0) != 10269 ||
		len(es.OwnerReferences) != 1 || es.OwnerReferences[0].UID != np.UID || !ptr.Deref(es.OwnerReferences[0].Controller, false) {
		t.Errorf("EndpointSlice breaks the contract: %+v", es)
	}
	for _, e := range es.Endpoints {
		if !ptr.Deref(e.Conditions.Ready, false) {
			t.Errorf("endpoint %v not ready", e.Addresses)
		}
	}
	out, err := controlPlane.Kubectl(ctx, "get", "endpointslices", "-n", ns, "-l", "openyurt.io/pool-name=sl")
	if err != nil || !strings.Contains(out, "leader-hub-sl-ipv4") || !strings.Contains(out, "10.15.0.1,10.15.0.2") {
		t.Errorf("kubectl get endpointslices -l openyurt.io/pool-name=sl: %v\n%s", err, out)
	}

	// Zero writes: status churn, then two resyncs.
	w, err := slices.Watch(ctx, metav1.ListOptions{ResourceVersion: es.ResourceVersion, LabelSelector: "openyurt.io/pool-name=sl"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		churn(t, "sl", i)
	}
	waitResyncs(t, lh, 2)
	// The first event must be the change made now: had churn or a resync
	// written, an earlier event would come first.
	setLeaders(t, "sl", leaders("s1=10.15.0.1", "s2=10.15.0.2", "s4=10.15.0.4"))
	ev := nextEvent(t, w, 30*time.Second)
	if got, ok := ev.Object.(*discoveryv1.EndpointSlice); !ok || ev.Type != watch.Modified || sliceLeaders(got) != "s1/10.15.0.1,s2/10.15.0.2,s4/10.15.0.4" {
		t.Fatalf("first EndpointSlice event after status churn and two resyncs: %s %v, want MODIFIED with s4 added", ev.Type, ev.Object)
	}
	w.Stop()
	if writes := metricValue(t, lh, `leaderhub_controller_writes_total{form="endpointslice-ipv4",verb="create"}`); writes < 1 {
		t.Errorf("the slice's creation is not counted: %v", writes)
	}

	// Dual-stack, then IPv6 only: a slice per family, the IPv4 one gone.
	setLeaders(t, "sl", leaders("s1=10.15.0.1", "s3=fd00::3"))
	waitSlice(t, ns, "leader-hub-sl-ipv6", "appeared", func(es *discoveryv1.EndpointSlice) bool {
		return es.AddressType == discoveryv1.AddressTypeIPv6 && sliceLeaders(es) == "s3/fd00::3"
	})
	waitSlice(t, ns, "leader-hub-sl-ipv4", "followed", func(es *discoveryv1.EndpointSlice) bool { return sliceLeaders(es) == "s1/10.15.0.1" })
	setLeaders(t, "sl", leaders("s3=fd00::3"))
	sliceGone("leader-hub-sl-ipv4", "the IPv4 slice of a pool with IPv6 leaders only", 30*time.Second)
	setLeaders(t, "sl", leaders("s1=10.15.0.1"))
	es = waitSlice(t, ns, "leader-hub-sl-ipv4", "came back", func(es *discoveryv1.EndpointSlice) bool { return sliceLeaders(es) == "s1/10.15.0.1" })
	sliceGone("leader-hub-sl-ipv6", "the IPv6 slice of a pool with IPv4 leaders only", 30*time.Second)

	// Repair: a hand edit is undone, another's label kept; a deleted slice
	// comes back.
	edited := es.DeepCopy()
	edited.Endpoints[0].Addresses = []string{"10.15.9.9"}
	edited.Labels["team"] = "someone-elses-label"
	if _, err := slices.Update(ctx, edited, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	repaired := waitSlice(t, ns, "leader-hub-sl-ipv4", "was repaired", func(es *discoveryv1.EndpointSlice) bool {
		return sliceLeaders(es) == "s1/10.15.0.1" && es.Labels["team"] == "someone-elses-label"
	})
	if err := slices.Delete(ctx, repaired.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSlice(t, ns, "leader-hub-sl-ipv4", "was recreated", func(e *discoveryv1.EndpointSlice) bool {
		return e.UID != repaired.UID && sliceLeaders(e) == "s1/10.15.0.1"
	})

	// A foreign slice with the name of a pool's slice is left alone.
	foreign, err := slices.Create(ctx, &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "leader-hub-slforeign-ipv4",
		Labels: map[string]string{"owner": "someone-else"}}, AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.15.1.99"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = slices.Delete(context.Background(), foreign.Name, metav1.DeleteOptions{}) })
	createPool(t, "slforeign", leaders("f1=10.15.1.1"))
	waitEvent(t, "slforeign", "ObjectConflict")
	waitResyncs(t, lh, 1)
	if now, err := slices.Get(ctx, foreign.Name, metav1.GetOptions{}); err != nil || now.ResourceVersion != foreign.ResourceVersion {
		t.Errorf("the foreign EndpointSlice changed: %v (%v)", now, err)
	}

	// A deleted pool's slices are deleted by the controller.
	if err := clientset(t).AppsV1beta2().NodePools().Delete(ctx, "sl", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	sliceGone("leader-hub-sl-ipv4", "the slice of a deleted pool", 30*time.Second)

	// With leaderhub down, the garbage collector deletes them through the
	// owner reference.
	createPool(t, "slgc", leaders("g1=10.15.2.1"))
	waitSlice(t, ns, "leader-hub-slgc-ipv4", "appeared", func(*discoveryv1.EndpointSlice) bool { return true })
	deleteWithGarbageCollector(t, lh, "slgc", "the slice of a deleted pool", func(ctx context.Context) error {
		_, err := slices.Get(ctx, "leader-hub-slgc-ipv4", metav1.GetOptions{})
		return err
	})
}
