package integration

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	openyurtinformers "github.com/leaderhub/leaderhub/pkg/generated/openyurt/informers/externalversions"
)

func fullNodePool(name string) *appsv1beta2.NodePool {
	elected := metav1.NewTime(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	return &appsv1beta2.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"team": "edge"}},
		Spec: appsv1beta2.NodePoolSpec{
			Type:                    appsv1beta2.Edge,
			HostNetwork:             true,
			Labels:                  map[string]string{"pool": name},
			Annotations:             map[string]string{"note": "all fields set"},
			Taints:                  []corev1.Taint{{Key: "edge", Value: "true", Effect: corev1.TaintEffectNoSchedule}},
			InterConnectivity:       true,
			LeaderElectionStrategy:  string(appsv1beta2.ElectionStrategyMark),
			LeaderNodeLabelSelector: map[string]string{"leader": "yes"},
			EnableLeaderElection:    true,
			PoolScopeMetadata: []metav1.GroupVersionResource{
				{Group: "", Version: "v1", Resource: "services"},
				{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"},
			},
			LeaderReplicas: 2,
		},
		Status: appsv1beta2.NodePoolStatus{
			ReadyNodeNum:   2,
			UnreadyNodeNum: 1,
			Nodes:          []string{"n1", "n2", "n3"},
			LeaderEndpoints: []appsv1beta2.Leader{
				{NodeName: "n1", Address: "10.0.0.1"},
				{NodeName: "n2", Address: "10.0.0.2"},
			},
			LeaderNum:             2,
			LeaderLastElectedTime: elected,
			Conditions: []appsv1beta2.NodePoolCondition{{
				Type: appsv1beta2.LeaderStatus, Status: corev1.ConditionTrue,
				LastTransitionTime: elected, Reason: "Elected", Message: "2 leaders",
			}},
		},
	}
}

// TestNodePoolAllFieldsThroughClientsetAndInformer writes a NodePool with
// every v1beta2 field set through the generated clientset (spec, then the
// status subresource) and reads it back through a generated informer.
func TestNodePoolAllFieldsThroughClientsetAndInformer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := clientset(t)
	want := fullNodePool("all-fields")

	created, err := client.AppsV1beta2().NodePools().Create(ctx, want, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() {
		_ = client.AppsV1beta2().NodePools().Delete(context.Background(), want.Name, metav1.DeleteOptions{})
	})
	if !apiequality.Semantic.DeepEqual(created.Spec, want.Spec) {
		t.Fatalf("spec changed on create:\nwant %+v\ngot  %+v", want.Spec, created.Spec)
	}
	created.Status = want.Status
	if _, err := client.AppsV1beta2().NodePools().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update status: %v", err)
	}

	factory := openyurtinformers.NewSharedInformerFactory(client, 0)
	lister := factory.Apps().V1beta2().NodePools().Lister()
	stop := make(chan struct{})
	factory.Start(stop)
	defer func() { close(stop); factory.Shutdown() }()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("informer for %v did not sync", typ)
		}
	}
	var got *appsv1beta2.NodePool
	err = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		got, err = lister.Get(want.Name)
		return err == nil && got.Status.LeaderNum == want.Status.LeaderNum, nil
	})
	if err != nil {
		t.Fatalf("informer never saw the NodePool with its status: %v (last %+v)", err, got)
	}
	if !apiequality.Semantic.DeepEqual(got.Spec, want.Spec) {
		t.Errorf("spec through informer:\nwant %+v\ngot  %+v", want.Spec, got.Spec)
	}
	if !apiequality.Semantic.DeepEqual(got.Status, want.Status) {
		t.Errorf("status through informer:\nwant %+v\ngot  %+v", want.Status, got.Status)
	}
	if !reflect.DeepEqual(got.Labels, want.Labels) {
		t.Errorf("labels through informer: want %v, got %v", want.Labels, got.Labels)
	}
}

// TestNodePoolUpstreamJSONRoundTrip applies a NodePool shaped exactly as
// upstream OpenYurt writes it (raw JSON, every field) and reads it back: the
// CRD schema must keep every field, and leaderhub's Go types must decode and
// re-encode it to the same JSON.
func TestNodePoolUpstreamJSONRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	input, err := os.ReadFile("testdata/nodepool-upstream.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]interface{}
	if err := json.Unmarshal(input, &want); err != nil {
		t.Fatal(err)
	}

	// leaderhub's Go types are JSON-identical to upstream's.
	var typed appsv1beta2.NodePool
	if err := json.Unmarshal(input, &typed); err != nil {
		t.Fatalf("decoding into Go types: %v", err)
	}
	reencoded, err := json.Marshal(&typed)
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, "Go types re-encoding", want, reencoded)

	// The CRD keeps every field: create the spec, write the status through
	// the status subresource, read the whole object back as raw JSON.
	rc := clientset(t).AppsV1beta2().RESTClient()
	created, err := rc.Post().Resource("nodepools").Body(input).DoRaw(ctx)
	if err != nil {
		t.Fatalf("create: %v: %s", err, created)
	}
	t.Cleanup(func() {
		_ = rc.Delete().Resource("nodepools").Name("hangzhou").Do(context.Background()).Error()
	})
	var live map[string]interface{}
	if err := json.Unmarshal(created, &live); err != nil {
		t.Fatal(err)
	}
	withRV := deepCopyJSON(t, want)
	withRV["metadata"].(map[string]interface{})["resourceVersion"] = live["metadata"].(map[string]interface{})["resourceVersion"]
	statusBody, _ := json.Marshal(withRV)
	if out, err := rc.Put().Resource("nodepools").Name("hangzhou").SubResource("status").Body(statusBody).DoRaw(ctx); err != nil {
		t.Fatalf("update status: %v: %s", err, out)
	}
	got, err := rc.Get().Resource("nodepools").Name("hangzhou").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, "read back from kube-apiserver", want, stripServerFields(t, got))

	// And real kubectl reads the same object, with upstream's columns.
	out, err := controlPlane.Kubectl(ctx, "get", "np", "hangzhou", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, "kubectl get np -o json", want, stripServerFields(t, []byte(out)))
	table, err := controlPlane.Kubectl(ctx, "get", "np", "hangzhou")
	if err != nil {
		t.Fatal(err)
	}
	header := strings.Fields(strings.SplitN(table, "\n", 2)[0])
	wantHeader := []string{"NAME", "TYPE", "READYNODES", "NOTREADYNODES", "LEADERNODES", "LEADERELECTIONAGE", "AGE"}
	if !reflect.DeepEqual(header, wantHeader) {
		t.Errorf("kubectl get np columns = %v, want %v", header, wantHeader)
	}
	if fields := strings.Fields(strings.Split(table, "\n")[1]); len(fields) < 5 || fields[0] != "hangzhou" || fields[1] != "Edge" || fields[2] != "3" || fields[3] != "1" || fields[4] != "2" {
		t.Errorf("kubectl get np row = %q, want hangzhou Edge 3 1 2 ...", fields)
	}
}

// stripServerFields removes the metadata kube-apiserver adds on write.
func stripServerFields(t *testing.T, raw []byte) []byte {
	t.Helper()
	var obj map[string]interface{}
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	meta := obj["metadata"].(map[string]interface{})
	for _, k := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"} {
		delete(meta, k)
	}
	out, _ := json.Marshal(obj)
	return out
}

func deepCopyJSON(t *testing.T, in map[string]interface{}) map[string]interface{} {
	t.Helper()
	data, _ := json.Marshal(in)
	var out map[string]interface{}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func assertJSONEqual(t *testing.T, what string, want map[string]interface{}, got []byte) {
	t.Helper()
	var gotObj map[string]interface{}
	if err := json.Unmarshal(got, &gotObj); err != nil {
		t.Fatalf("%s: decoding: %v", what, err)
	}
	if !reflect.DeepEqual(want, gotObj) {
		wantJSON, _ := json.MarshalIndent(want, "", "  ")
		gotJSON, _ := json.MarshalIndent(gotObj, "", "  ")
		t.Errorf("%s differs:\nwant %s\ngot  %s", what, wantJSON, gotJSON)
	}
}
