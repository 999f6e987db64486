package integration

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/yaml"
)

// TestControllerEndpointsContract: the Endpoints of a pool are exactly what
// docs/design.md fixes (read with real kubectl), and follow leader changes.
func TestControllerEndpointsContract(t *testing.T) {
	sharedView(t)
	ctx := testContext(t, time.Minute)
	np := createPool(t, "materialized", leaders("edge-b=10.8.0.2", "edge-a=10.8.0.1"))
	waitEndpoints(t, viewNS, "leader-hub-materialized", "had both leaders", func(ep *corev1.Endpoints) bool {
		return endpointsLeaders(ep) == "edge-a/10.8.0.1,edge-b/10.8.0.2"
	})
	out, err := controlPlane.Kubectl(ctx, "get", "endpoints", "leader-hub-materialized", "-n", viewNS, "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]interface{}
	if err := yaml.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	meta := got["metadata"].(map[string]interface{})
	for _, server := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields"} {
		delete(meta, server)
	}
	want := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(`apiVersion: v1
kind: Endpoints
metadata:
  name: leader-hub-materialized
  namespace: kube-system
  labels:
    app.kubernetes.io/managed-by: leaderhub
    openyurt.io/pool-name: materialized
  annotations:
    openyurt.io/enable-leader-election: "true"
    openyurt.io/interconnectivity: "true"
    openyurt.io/pool-scoped-metadata: /v1/services,discovery.k8s.io/v1/endpointslices
  ownerReferences:
  - apiVersion: apps.openyurt.io/v1beta2
    kind: NodePool
    name: materialized
    uid: `+string(np.UID)+`
    controller: true
subsets:
- addresses:
  - ip: 10.8.0.1
    nodeName: edge-a
  - ip: 10.8.0.2
    nodeName: edge-b
  ports:
  - name: https
    port: 10269
    protocol: TCP
`), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kubectl get endpoints -o yaml:\n%s", out)
	}

	setLeaders(t, "materialized", leaders("edge-c=10.8.0.3"))
	waitEndpoints(t, viewNS, "leader-hub-materialized", "followed the leader change", func(ep *corev1.Endpoints) bool {
		return endpointsLeaders(ep) == "edge-c/10.8.0.3"
	})
	setLeaders(t, "materialized", nil)
	ep := waitEndpoints(t, viewNS, "leader-hub-materialized", "lost its subsets", func(ep *corev1.Endpoints) bool {
		return len(ep.Subsets) == 0
	})
	if ep.Labels["openyurt.io/pool-name"] != "materialized" {
		t.Errorf("labels after losing leaders: %v", ep.Labels)
	}
}

// TestControllerZeroWrites: 100 status updates outside the projection and
// full resyncs cause no write: the Endpoints' resourceVersion stays and a
// watch of them receives nothing.
func TestControllerZeroWrites(t *testing.T) {
	lh := sharedView(t)
	ctx := testContext(t, 2*time.Minute)
	createPool(t, "quietwrites", leaders("z1=10.9.0.1"))
	ep := waitEndpoints(t, viewNS, "leader-hub-quietwrites", "appeared", func(ep *corev1.Endpoints) bool {
		return endpointsLeaders(ep) == "z1/10.9.0.1"
	})
	w, err := kubeClient(t).CoreV1().Endpoints(viewNS).Watch(ctx, metav1.ListOptions{
		ResourceVersion: ep.ResourceVersion, FieldSelector: "metadata.name=leader-hub-quietwrites"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for i := 0; i < 100; i++ {
		churn(t, "quietwrites", i)
	}
	// Then two full resyncs: every pool is synced at least twice more.
	synced := waitResyncs(t, lh, 2)
	now, err := kubeClient(t).CoreV1().Endpoints(viewNS).Get(ctx, "leader-hub-quietwrites", metav1.GetOptions{})
	if err != nil || now.ResourceVersion != ep.ResourceVersion {
		t.Fatalf("Endpoints resourceVersion %s -> %v (err %v); want unchanged", ep.ResourceVersion, now, err)
	}
	// The watch's first event must be the change made now: had churn or a
	// resync written, an earlier event would come first.
	setLeaders(t, "quietwrites", leaders("z2=10.9.0.2"))
	ev := nextEvent(t, w, 30*time.Second)
	if got, ok := ev.Object.(*corev1.Endpoints); !ok || ev.Type != watch.Modified || endpointsLeaders(got) != "z2/10.9.0.2" {
		t.Fatalf("first Endpoints event after status churn and two resyncs: %s %v, want MODIFIED with z2/10.9.0.2", ev.Type, ev.Object)
	}
	t.Logf("100 status updates, then two resyncs (%v pool syncs): 0 writes, Endpoints resourceVersion still %s",
		synced, ep.ResourceVersion)
}

// TestControllerRepairsAndDeletes: a hand edit is undone, a hand delete is
// recreated, and deleting the pool deletes its objects.
func TestControllerRepairsAndDeletes(t *testing.T) {
	sharedView(t)
	ctx := testContext(t, time.Minute)
	eps := kubeClient(t).CoreV1().Endpoints(viewNS)
	createPool(t, "repair", leaders("p1=10.10.0.1"))
	ep := waitEndpoints(t, viewNS, "leader-hub-repair", "appeared", func(ep *corev1.Endpoints) bool { return endpointsLeaders(ep) == "p1/10.10.0.1" })

	edited := ep.DeepCopy()
	edited.Subsets[0].Addresses[0].IP = "10.10.9.9"
	delete(edited.Annotations, "openyurt.io/interconnectivity")
	edited.Labels["team"] = "someone-elses-label"
	if _, err := eps.Update(ctx, edited, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	repaired := waitEndpoints(t, viewNS, "leader-hub-repair", "were repaired", func(ep *corev1.Endpoints) bool {
		return endpointsLeaders(ep) == "p1/10.10.0.1" && ep.Annotations["openyurt.io/interconnectivity"] == "true"
	})
	if repaired.Labels["team"] != "someone-elses-label" {
		t.Errorf("repair dropped a label leaderhub does not own: %v", repaired.Labels)
	}

	if err := eps.Delete(ctx, "leader-hub-repair", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	recreated := waitEndpoints(t, viewNS, "leader-hub-repair", "were recreated", func(e *corev1.Endpoints) bool {
		return e.UID != ep.UID && endpointsLeaders(e) == "p1/10.10.0.1"
	})
	_ = recreated

	if err := clientset(t).AppsV1beta2().NodePools().Delete(ctx, "repair", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, func(ctx context.Context) error {
		_, err := eps.Get(ctx, "leader-hub-repair", metav1.GetOptions{})
		return err
	}, "Endpoints of the deleted pool", 30*time.Second)
	waitGone(t, func(ctx context.Context) error {
		_, err := kubeClient(t).CoreV1().ConfigMaps(viewNS).Get(ctx, "leader-hub-repair", metav1.GetOptions{})
		return err
	}, "ConfigMap of the deleted pool", 30*time.Second)
}

// TestControllerLeavesForeignObjects: an Endpoints named leader-hub-<pool>
// that leaderhub does not manage is left exactly as it is, with an Event on
// the NodePool and a conflict counted.
func TestControllerLeavesForeignObjects(t *testing.T) {
	lh := sharedView(t)
	ctx := testContext(t, time.Minute)
	eps := kubeClient(t).CoreV1().Endpoints(viewNS)
	foreign, err := eps.Create(ctx, &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "leader-hub-foreign", Labels: map[string]string{"owner": "someone-else"}},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.11.0.99"}},
			Ports: []corev1.EndpointPort{{Name: "custom", Port: 1234, Protocol: corev1.ProtocolTCP}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eps.Delete(context.Background(), "leader-hub-foreign", metav1.DeleteOptions{}) })
	conflictsBefore := metricValue(t, lh, `leaderhub_controller_conflicts_total{form="endpoints"}`)

	np := createPool(t, "foreign", leaders("f1=10.11.0.1"))
	event := waitEvent(t, "foreign", "ObjectConflict")
	if event.InvolvedObject.UID != np.UID || event.Type != corev1.EventTypeWarning || !strings.Contains(event.Message, "not managed by leaderhub") {
		t.Errorf("event = %+v", event)
	}
	waitResyncs(t, lh, 1) // a resync must not touch it either
	now, err := eps.Get(ctx, "leader-hub-foreign", metav1.GetOptions{})
	if err != nil || now.ResourceVersion != foreign.ResourceVersion {
		t.Fatalf("the foreign Endpoints changed: %v -> %v (%v)", foreign.ResourceVersion, now, err)
	}
	if got := metricValue(t, lh, `leaderhub_controller_conflicts_total{form="endpoints"}`); got <= conflictsBefore {
		t.Errorf("conflicts_total did not grow: %v -> %v", conflictsBefore, got)
	}
	t.Logf("event: %s %s: %s", event.Type, event.Reason, event.Message)
}

// TestControllerConfigMapUpstreamFormat: the ConfigMap is byte for byte what
// upstream's hubleaderconfig controller writes and YurtHub parses: leaders
// sorted as "node/ip" strings (edge-2 before edge), metadata sorted.
func TestControllerConfigMapUpstreamFormat(t *testing.T) {
	sharedView(t)
	ctx := testContext(t, time.Minute)
	np := createPool(t, "configmap", leaders("edge=10.12.0.1", "edge-2=10.12.0.2"))
	var cm *corev1.ConfigMap
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		cm, err = kubeClient(t).CoreV1().ConfigMaps(viewNS).Get(ctx, "leader-hub-configmap", metav1.GetOptions{})
		return err == nil && cm.Data["leaders"] != "", nil
	})
	if err != nil {
		t.Fatalf("no ConfigMap: %v", err)
	}
	want := map[string]string{
		"leaders":                "edge-2/10.12.0.2,edge/10.12.0.1",
		"pool-scoped-metadata":   "/v1/services,discovery.k8s.io/v1/endpointslices",
		"interconnectivity":      "true",
		"enable-leader-election": "true",
	}
	if !reflect.DeepEqual(cm.Data, want) {
		t.Errorf("ConfigMap data = %#v\nwant %#v", cm.Data, want)
	}
	if cm.Labels["openyurt.io/configmap-name"] != "leader-hub-configmap" || len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != np.UID {
		t.Errorf("ConfigMap metadata = %+v", cm.ObjectMeta)
	}
	// The Endpoints of the same pool sort by node name (edge before edge-2).
	waitEndpoints(t, viewNS, "leader-hub-configmap", "sorted by node name", func(ep *corev1.Endpoints) bool {
		return endpointsLeaders(ep) == "edge/10.12.0.1,edge-2/10.12.0.2"
	})
}

// TestControllerMetrics: /metrics reflects syncs, pools without leaders and
// the workqueue.
func TestControllerMetrics(t *testing.T) {
	lh := sharedView(t)
	createPool(t, "noleaders", nil)
	waitEndpoints(t, viewNS, "leader-hub-noleaders", "appeared", func(*corev1.Endpoints) bool { return true })
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		return metricValue(t, lh, "leaderhub_controller_pools_without_leaders") >= 1, nil
	})
	if err != nil {
		t.Errorf("pools_without_leaders never counted the pool without leaders")
	}
	for _, m := range []string{`leaderhub_controller_syncs_total{result="created"}`, `leaderhub_controller_writes_total{form="endpoints",verb="create"}`,
		"leaderhub_controller_managed_pools", "leaderhub_controller_leader", "leaderhub_controller_last_successful_sync_timestamp_seconds"} {
		if metricValue(t, lh, m) <= 0 {
			t.Errorf("%s is not positive", m)
		}
	}
	if !strings.Contains(scrape(t, lh), `workqueue_depth{name="leaderhub_materialize"}`) {
		t.Error("no workqueue depth metric for the controller's queue")
	}
}

// TestControllerAdoptsHandedOverConfigMap: the migration path from
// yurt-manager. An upstream-written ConfigMap is foreign until an operator
// labels it managed-by=leaderhub; then leaderhub takes it over in place
// (same object, no gap for YurtHubs watching it).
func TestControllerAdoptsHandedOverConfigMap(t *testing.T) {
	lh := sharedView(t)
	ctx := testContext(t, time.Minute)
	cms := kubeClient(t).CoreV1().ConfigMaps(viewNS)
	upstream, err := cms.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "leader-hub-adopted", Labels: map[string]string{"openyurt.io/configmap-name": "leader-hub-adopted"}},
		Data:       map[string]string{"leaders": "old/10.15.9.9", "pool-scoped-metadata": "/v1/services", "interconnectivity": "true", "enable-leader-election": "true"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cms.Delete(context.Background(), "leader-hub-adopted", metav1.DeleteOptions{}) })
	createPool(t, "adopted", leaders("a1=10.15.0.1"))
	waitEndpoints(t, viewNS, "leader-hub-adopted", "appeared", func(*corev1.Endpoints) bool { return true })
	waitEvent(t, "adopted", "ObjectConflict")
	waitResyncs(t, lh, 1)
	if cm, _ := cms.Get(ctx, "leader-hub-adopted", metav1.GetOptions{}); cm.ResourceVersion != upstream.ResourceVersion {
		t.Fatal("an unlabeled upstream ConfigMap was changed")
	}

	if _, err := controlPlane.Kubectl(ctx, "label", "configmap", "-n", viewNS, "leader-hub-adopted", "app.kubernetes.io/managed-by=leaderhub"); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		cm, err := cms.Get(ctx, "leader-hub-adopted", metav1.GetOptions{})
		return err == nil && cm.UID == upstream.UID && cm.Data["leaders"] == "a1/10.15.0.1" &&
			cm.Data["pool-scoped-metadata"] == "/v1/services,discovery.k8s.io/v1/endpointslices" && len(cm.OwnerReferences) == 1, nil
	})
	if err != nil {
		cm, _ := cms.Get(ctx, "leader-hub-adopted", metav1.GetOptions{})
		t.Fatalf("the labeled ConfigMap was not taken over in place: %+v", cm)
	}
}

// TestControllerBadInput: an invalid leader address is left out with an
// Event; a pool name too long for a label value is skipped with an Event;
// the other pools are still served.
func TestControllerBadInput(t *testing.T) {
	lh := sharedView(t)
	createPool(t, "badleader", leaders("ok=10.16.0.1", "bad=not-an-ip", "lo=127.0.0.1"))
	waitEndpoints(t, viewNS, "leader-hub-badleader", "had only the valid leader", func(ep *corev1.Endpoints) bool {
		return endpointsLeaders(ep) == "ok/10.16.0.1"
	})
	ev := waitEvent(t, "badleader", "InvalidLeaderAddress")
	if !strings.Contains(ev.Message, "not-an-ip") || !strings.Contains(ev.Message, "loopback") {
		t.Errorf("event message = %q", ev.Message)
	}

	long := strings.Repeat("p", 64)
	createPool(t, long, leaders("n=10.16.0.2"))
	ev = waitEvent(t, long, "InvalidPoolName")
	if !strings.Contains(ev.Message, "label value") {
		t.Errorf("event message = %q", ev.Message)
	}
	if metricValue(t, lh, `leaderhub_controller_syncs_total{result="skipped"}`) < 1 {
		t.Error("the skipped pool was not counted")
	}
	// Everything else still works.
	createPool(t, "afterbad", leaders("n=10.16.0.3"))
	waitEndpoints(t, viewNS, "leader-hub-afterbad", "appeared", func(ep *corev1.Endpoints) bool { return endpointsLeaders(ep) == "n/10.16.0.3" })
	if err := lh.WaitReady(testContext(t, 10*time.Second)); err != nil {
		t.Error(err)
	}
}

// TestControllerFormsFailIndependently: a NodePool whose name is 55
// characters can have no upstream ConfigMap (its openyurt.io/configmap-name
// label would hold the 66-character object name), but gets its view and
// its Endpoints, one PoolNameTooLongForConfigMap Event, and no repeated
// attempts: over three controller resyncs the rejection and error
// counters stay where they were and the Event is not repeated.
func TestControllerFormsFailIndependently(t *testing.T) {
	lh := sharedView(t)
	pool := "forms-" + strings.Repeat("x", 49)
	if len(pool) != 55 {
		t.Fatalf("pool name is %d characters", len(pool))
	}
	name := "leader-hub-" + pool
	np := createPool(t, pool, leaders("n1=10.17.0.1"))
	waitEndpoints(t, viewNS, name, "appeared", func(ep *corev1.Endpoints) bool { return endpointsLeaders(ep) == "n1/10.17.0.1" })
	if got := waitViewLeaders(t, pool, "n1/10.17.0.1"); got.Name != name {
		t.Errorf("view object %q, want %q", got.Name, name)
	}
	event := waitEvent(t, pool, "PoolNameTooLongForConfigMap")
	if !strings.Contains(event.Message, "configmap-name") || !strings.Contains(event.Message, "66 characters") {
		t.Errorf("Event message %q does not say why", event.Message)
	}

	rejections := `leaderhub_controller_rejections_total{form="configmap",reason="PoolNameTooLongForConfigMap"}`
	errorSyncs := `leaderhub_controller_syncs_total{result="error"}`
	rejectedBefore, errorsBefore := metricValue(t, lh, rejections), metricValue(t, lh, errorSyncs)
	if rejectedBefore < 1 {
		t.Fatalf("%s = %v, want the rejection counted", rejections, rejectedBefore)
	}
	waitResyncs(t, lh, 3)
	if after := metricValue(t, lh, rejections); after != rejectedBefore {
		t.Errorf("%s went from %v to %v over three resyncs with the pool unchanged", rejections, rejectedBefore, after)
	}
	if after := metricValue(t, lh, errorSyncs); after != errorsBefore {
		t.Errorf("%s went from %v to %v over three resyncs: syncs are being retried", errorSyncs, errorsBefore, after)
	}
	list, err := kubeClient(t).CoreV1().Events("default").List(testContext(t, 10*time.Second), metav1.ListOptions{
		FieldSelector: poolEvents(np, "PoolNameTooLongForConfigMap")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Count > 1 {
		t.Errorf("PoolNameTooLongForConfigMap recorded %d times (%d Events), want once", eventCount(list.Items), len(list.Items))
	}
	if _, err := kubeClient(t).CoreV1().ConfigMaps(viewNS).Get(testContext(t, 10*time.Second), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap %s: %v, want NotFound", name, err)
	}
	// The pool still follows changes in the forms that can hold it.
	setLeaders(t, pool, leaders("n2=10.17.0.2"))
	waitEndpoints(t, viewNS, name, "followed a leader change", func(ep *corev1.Endpoints) bool { return endpointsLeaders(ep) == "n2/10.17.0.2" })
}

func eventCount(events []corev1.Event) int32 {
	var n int32
	for _, e := range events {
		n += max(e.Count, 1)
	}
	return n
}
