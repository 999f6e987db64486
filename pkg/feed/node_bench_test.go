package feed

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/test/fixtures"
)

// kubeletNode is a Node as a kubelet of an edge node writes it: the usual
// labels and annotations, five conditions, addresses, capacity, node info,
// 20 images and managedFields.
func kubeletNode(i int) *corev1.Node {
	name := fmt.Sprintf("edge-node-%05d", i)
	now := metav1.NewTime(time.Unix(1_700_000_000, 0))
	n := corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: "4f0e2a7c-1b7e-4c1e-9d1a-3c5b7e9f1a2b", ResourceVersion: "123456",
			CreationTimestamp: now,
			Labels: map[string]string{
				"apps.openyurt.io/nodepool": fmt.Sprintf("pool-%03d", i%500), "beta.kubernetes.io/arch": "arm64",
				"beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64", "kubernetes.io/hostname": name,
				"kubernetes.io/os": "linux", "openyurt.io/is-edge-worker": "true", "node.kubernetes.io/instance-type": "edge-box",
				"topology.kubernetes.io/region": "cn-east", "topology.kubernetes.io/zone": "cn-east-3",
			},
			Annotations: map[string]string{
				"kubeadm.alpha.kubernetes.io/cri-socket":                 "unix:///run/containerd/containerd.sock",
				"node.alpha.kubernetes.io/ttl":                           "0",
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
				"apps.openyurt.io/binding":                               "true",
			},
			ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &now, FieldsType: "FieldsV1",
					FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:annotations":{".":{},"f:node.alpha.kubernetes.io/ttl":{}},"f:labels":{".":{},"f:kubernetes.io/arch":{},"f:kubernetes.io/hostname":{},"f:kubernetes.io/os":{}}}}`)},
				{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &now, FieldsType: "FieldsV1", Subresource: "status",
					FieldsV1: metav1.NewFieldsV1(`{"f:status":{"f:conditions":{"k:{\"type\":\"Ready\"}":{"f:lastHeartbeatTime":{},"f:lastTransitionTime":{},"f:message":{},"f:reason":{},"f:status":{}}},"f:images":{},"f:nodeInfo":{"f:bootID":{}}}}`)},
			},
		},
		Spec: corev1.NodeSpec{PodCIDR: "10.244.3.0/24", PodCIDRs: []string{"10.244.3.0/24"}},
		Status: corev1.NodeStatus{
			Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"),
				corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceEphemeralStorage: resource.MustParse("60Gi")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("7Gi"),
				corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceEphemeralStorage: resource.MustParse("55Gi")},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)},
				{Type: corev1.NodeHostName, Address: name}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
			NodeInfo: corev1.NodeSystemInfo{MachineID: "0123456789abcdef0123456789abcdef", SystemUUID: "0123-4567", BootID: "89ab-cdef",
				KernelVersion: "5.15.0-91-generic", OSImage: "Ubuntu 22.04.3 LTS", ContainerRuntimeVersion: "containerd://1.7.2",
				KubeletVersion: "v1.30.2", OperatingSystem: "linux", Architecture: "arm64"},
		},
	}
	for _, c := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure, corev1.NodeNetworkUnavailable, corev1.NodeReady} {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: c, Status: corev1.ConditionFalse,
			LastHeartbeatTime: now, LastTransitionTime: now, Reason: "KubeletHasSufficient" + string(c), Message: "kubelet has sufficient " + string(c)})
	}
	n.Status.Conditions[4].Status = corev1.ConditionTrue
	for j := range 20 {
		n.Status.Images = append(n.Status.Images, corev1.ContainerImage{SizeBytes: 12_345_678,
			Names: []string{fmt.Sprintf("registry.example.com/edge/app-%02d@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", j),
				fmt.Sprintf("registry.example.com/edge/app-%02d:v1.2.3", j)}})
	}
	return &n
}

// BenchmarkNodeCacheMemory measures the heap a Node cache of 10,000
// kubelet-like Nodes holds per Node: whole in an indexer by pool (what a
// plain informer keeps), and as the Node cache keeps them.
func BenchmarkNodeCacheMemory(b *testing.B) {
	const nodes = 10_000
	raw := make([][]byte, nodes)
	for i := range raw {
		data, err := kubeletNode(i).Marshal()
		if err != nil {
			b.Fatal(err)
		}
		raw[i] = data
	}
	decode := func(data []byte) *corev1.Node {
		n := &corev1.Node{}
		if err := n.Unmarshal(data); err != nil {
			b.Fatal(err)
		}
		return n
	}
	byPool := cache.Indexers{"pool": func(obj interface{}) ([]string, error) {
		return []string{obj.(*corev1.Node).Labels[appsv1beta2.LabelNodePool]}, nil
	}}
	for _, tc := range []struct {
		name  string
		store func() cache.ReflectorStore
	}{
		{"whole", func() cache.ReflectorStore { return cache.NewIndexer(cache.MetaNamespaceKeyFunc, byPool) }},
		{"kept", func() cache.ReflectorStore { return NewNodeCache() }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var perNode float64
			for range b.N {
				store := tc.store()
				before := fixtures.LiveHeap()
				for _, data := range raw {
					if err := store.Add(decode(data)); err != nil {
						b.Fatal(err)
					}
				}
				perNode = float64(fixtures.LiveHeap()-before) / nodes
				runtime.KeepAlive(store)
			}
			b.ReportMetric(perNode, "B/node")
		})
	}
}

// BenchmarkNodeHeartbeat measures a heartbeat as the Node cache receives
// it: "decode" is the floor, the protobuf decoding of a kubelet-like Node
// that any watch of Nodes pays; "decode+drop" adds the cache finding that
// nothing it keeps changed.
func BenchmarkNodeHeartbeat(b *testing.B) {
	n := kubeletNode(1)
	c := NewNodeCache()
	if err := c.Add(n); err != nil {
		b.Fatal(err)
	}
	n.Status.Conditions[4].LastHeartbeatTime = metav1.NewTime(n.Status.Conditions[4].LastHeartbeatTime.Add(time.Minute))
	data, err := n.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		drop bool
	}{{"decode", false}, {"decode+drop", true}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				beat := &corev1.Node{}
				if err := beat.Unmarshal(data); err != nil {
					b.Fatal(err)
				}
				if tc.drop {
					if err := c.Update(beat); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
	if c.Len() != 1 {
		b.Fatalf("%d Nodes", c.Len())
	}
}
