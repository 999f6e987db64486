package integration

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/leaderhub/leaderhub/test/framework"
)

// leaseHolderPID returns the PID in the holder identity of the controller
// Lease (hostname_pid_uuid), or 0.
func leaseHolderPID(t *testing.T, ns string) int {
	t.Helper()
	lease, err := kubeClient(t).CoordinationV1().Leases(ns).Get(context.Background(), "leaderhub-controller", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil {
		return 0
	}
	parts := strings.Split(*lease.Spec.HolderIdentity, "_")
	if len(parts) < 3 {
		return 0
	}
	pid, _ := strconv.Atoi(parts[len(parts)-2])
	return pid
}

// TestControllerHighAvailability: of two replicas exactly one writes; when it
// dies (SIGKILL, by PID) the other takes the lease over and repairs what
// changed while nobody held it.
func TestControllerHighAvailability(t *testing.T) {
	ns := freshNamespace(t, "leaderhub-ha")
	election := []string{"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=500ms"}
	a := startInNamespace(t, "leaderhub-ha-a", ns, election...)
	b := startInNamespace(t, "leaderhub-ha-b", ns, election...)
	createPool(t, "ha", leaders("h1=10.13.0.1"))
	waitEndpoints(t, ns, "leader-hub-ha", "appeared", func(ep *corev1.Endpoints) bool { return endpointsLeaders(ep) == "h1/10.13.0.1" })

	var leader, standby *framework.LeaderHub
	switch leaseHolderPID(t, ns) {
	case a.Process.PID:
		leader, standby = a, b
	case b.Process.PID:
		leader, standby = b, a
	default:
		t.Fatalf("the Lease is held by neither replica (pids %d, %d)", a.Process.PID, b.Process.PID)
	}
	leaderWrites := metricValue(t, leader, `leaderhub_controller_writes_total{form="endpoints",verb="create"}`)
	standbyWrites := metricValue(t, standby, `leaderhub_controller_writes_total{form="endpoints",verb="create"}`) +
		metricValue(t, standby, `leaderhub_controller_writes_total{form="endpoints",verb="update"}`)
	if leaderWrites < 1 || standbyWrites != 0 || metricValue(t, standby, "leaderhub_controller_leader") != 0 {
		t.Fatalf("leader wrote %v, standby wrote %v (standby leader gauge %v); want only the leader to write",
			leaderWrites, standbyWrites, metricValue(t, standby, "leaderhub_controller_leader"))
	}

	killed := time.Now()
	if err := leader.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Meanwhile, with nobody holding the lease: the leaders change and the
	// Endpoints are edited by hand.
	setLeaders(t, "ha", leaders("h2=10.13.0.2"))
	ep, err := kubeClient(t).CoreV1().Endpoints(ns).Get(context.Background(), "leader-hub-ha", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ep.Annotations["openyurt.io/interconnectivity"] = "tampered"
	if _, err := kubeClient(t).CoreV1().Endpoints(ns).Update(context.Background(), ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	waitEndpoints(t, ns, "leader-hub-ha", "repaired by the standby", func(ep *corev1.Endpoints) bool {
		return endpointsLeaders(ep) == "h2/10.13.0.2" && ep.Annotations["openyurt.io/interconnectivity"] == "true"
	})
	failover := time.Since(killed)
	if pid := leaseHolderPID(t, ns); pid != standby.Process.PID {
		t.Errorf("Lease holder pid %d, want the standby's %d", pid, standby.Process.PID)
	}
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return metricValue(t, standby, "leaderhub_controller_leader") == 1, nil
	})
	if err != nil {
		t.Error("the standby does not report itself leader")
	}
	t.Logf("failover after SIGKILL of the leader (pid %d): repaired by pid %d %v later (lease duration 4s)",
		leader.Process.PID, standby.Process.PID, failover.Round(100*time.Millisecond))
}

// TestGarbageCollectionWithoutLeaderhub: with leaderhub stopped and
// kube-controller-manager's garbage collector running, deleting a NodePool
// deletes its Endpoints through the owner reference.
func TestGarbageCollectionWithoutLeaderhub(t *testing.T) {
	ns := freshNamespace(t, "leaderhub-gc")
	lh := startInNamespace(t, "leaderhub-gc", ns, "--leader-elect=false")
	createPool(t, "gc", leaders("g1=10.14.0.1"))
	waitEndpoints(t, ns, "leader-hub-gc", "appeared", func(ep *corev1.Endpoints) bool { return endpointsLeaders(ep) == "g1/10.14.0.1" })
	deleteWithGarbageCollector(t, lh, "gc", "Endpoints of the deleted pool", func(ctx context.Context) error {
		_, err := kubeClient(t).CoreV1().Endpoints(ns).Get(ctx, "leader-hub-gc", metav1.GetOptions{})
		return err
	})
}
