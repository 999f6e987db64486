package framework

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// servicePort is the leaderhub Service's port, as the chart's Service has it.
const servicePort = 443

// ServeReplicas puts replicas of leaderhub behind the leaderhub Service and
// registers the APIService for it, as a Deployment's pods are served: a
// control plane started with Options.AggregatorRouting has kube-apiserver
// pick a ready endpoint of the Service's EndpointSlices for each request.
// Each replica gets an EndpointSlice of its own (of type FQDN, since
// endpoints may not hold loopback IPs), so a test can take it out of the
// Service (RemoveReplica) before it stops it, as the endpoint controller
// does for a terminating pod. The replicas must share a serving CA (the
// control plane's leaderhub CA, the default).
func (cp *ControlPlane) ServeReplicas(ctx context.Context, replicas ...*LeaderHub) error {
	if len(replicas) == 0 {
		return fmt.Errorf("ServeReplicas: no replica")
	}
	kube, err := cp.KubeClient()
	if err != nil {
		return err
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: LeaderHubServiceName, Namespace: LeaderHubNamespace},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "https", Port: servicePort, Protocol: corev1.ProtocolTCP,
			TargetPort: intstr.FromString("https")}}}}
	if _, err := kube.CoreV1().Services(LeaderHubNamespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating Service %s: %w", svc.Name, err)
	}
	for _, lh := range replicas {
		if err := cp.AddReplica(ctx, lh); err != nil {
			return err
		}
	}
	if err := cp.applyAPIService(ctx, replicas[0].CA.CertFile, servicePort); err != nil {
		return err
	}
	return cp.WaitAPIServiceAvailable(ctx)
}

// AddReplica adds a replica to the Service ServeReplicas made: its ready
// endpoint.
func (cp *ControlPlane) AddReplica(ctx context.Context, lh *LeaderHub) error {
	kube, err := cp.KubeClient()
	if err != nil {
		return err
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: replicaSliceName(lh), Labels: map[string]string{
			discoveryv1.LabelServiceName: LeaderHubServiceName, discoveryv1.LabelManagedBy: "leaderhub-test-framework"}},
		AddressType: discoveryv1.AddressTypeFQDN,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"127.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(int32(lh.Port)), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	if _, err := kube.DiscoveryV1().EndpointSlices(LeaderHubNamespace).Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("adding replica %s: %w", lh.Process.Name, err)
	}
	return nil
}

// RemoveReplica takes a replica out of the Service: kube-apiserver sends it
// no new request once its endpoint informer has seen the removal.
func (cp *ControlPlane) RemoveReplica(ctx context.Context, lh *LeaderHub) error {
	kube, err := cp.KubeClient()
	if err != nil {
		return err
	}
	err = kube.DiscoveryV1().EndpointSlices(LeaderHubNamespace).Delete(ctx, replicaSliceName(lh), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing replica %s: %w", lh.Process.Name, err)
	}
	return nil
}

func replicaSliceName(lh *LeaderHub) string {
	return LeaderHubServiceName + "-replica-" + strconv.Itoa(lh.Port)
}
