package feed

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/test/fixtures"
)

func TestSlimNode(t *testing.T) {
	full := fixtures.Node("n1", "p", true, "10.0.0.1", "fd00::1")
	full.Annotations = map[string]string{"big": "annotation"}
	full.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}
	full.Status.Images = []corev1.ContainerImage{{Names: []string{"image"}, SizeBytes: 1}}
	full.Status.Capacity = corev1.ResourceList{}
	obj, err := SlimNode(full)
	if err != nil {
		t.Fatal(err)
	}
	slim := obj.(*corev1.Node)
	if slim.Annotations != nil || slim.ManagedFields != nil || slim.Status.Images != nil || slim.Status.Capacity != nil {
		t.Errorf("slim node kept what the election does not read: %+v", slim)
	}
	if len(slim.Status.Conditions) != 1 || slim.Status.Conditions[0].Type != corev1.NodeReady ||
		!slim.Status.Conditions[0].LastHeartbeatTime.IsZero() {
		t.Errorf("conditions %+v, want Ready only, without heartbeat", slim.Status.Conditions)
	}
	if slim.Labels[appsv1beta2.LabelNodePool] != "p" || slim.Status.Conditions[0].Status != corev1.ConditionTrue ||
		len(slim.Status.Addresses) != 2 || slim.Status.Addresses[1].Address != "fd00::1" {
		t.Errorf("slim node lost what its readers read: %+v", slim)
	}
	// A heartbeat changes only what the transform drops.
	beat := full.DeepCopy()
	beat.ResourceVersion = "2"
	beat.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(time.Now().Add(time.Minute))
	slim2, _ := SlimNode(beat)
	if !SameSlimNode(slim, slim2.(*corev1.Node)) {
		t.Error("a heartbeat-only update is not Same")
	}
	for name, change := range map[string]func(*corev1.Node){
		"NotReady":   func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse },
		"new IP":     func(n *corev1.Node) { n.Status.Addresses[0].Address = "10.0.0.9" },
		"other pool": func(n *corev1.Node) { n.Labels[appsv1beta2.LabelNodePool] = "q" },
		"label":      func(n *corev1.Node) { n.Labels["leader"] = "yes" },
	} {
		changed := full.DeepCopy()
		change(changed)
		slim3, _ := SlimNode(changed)
		if SameSlimNode(slim, slim3.(*corev1.Node)) {
			t.Errorf("%s: judged the same", name)
		}
	}
	if passed, _ := SlimNode("not a node"); passed != "not a node" {
		t.Error("a non-Node did not pass through")
	}
}
