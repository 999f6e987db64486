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
	"k8s.io/apimachinery/pkg/watch"

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

// TestShutdownHandsOverAndExits: SIGTERM to the replica holding the
// controller lease, with view watches open on it, ends them and exits
// without needing SIGKILL; it stops its controllers and releases the lease
// at once, while it still serves through its shutdown delay (its log says
// so), and the standby, told by its watch on the Lease, takes it long
// before its next retry (10s here) and writes the next change. A
// replica started after the standby exits too takes the released lease at
// once, though the lease it finds was renewed a moment ago (30s duration).
func TestShutdownHandsOverAndExits(t *testing.T) {
	const retry, delay = 10 * time.Second, 3 * time.Second
	ns := freshNamespace(t, "leaderhub-handover")
	election := []string{"--leader-elect-lease-duration=30s", "--leader-elect-renew-deadline=20s", "--leader-elect-retry-period=" + retry.String(),
		"--shutdown-delay-duration=" + delay.String()}
	a := startInNamespace(t, "leaderhub-handover-a", ns, election...)
	b := startInNamespace(t, "leaderhub-handover-b", ns, election...)
	createPool(t, "handover", leaders("o1=10.15.0.1"))
	waitEndpoints(t, ns, "leader-hub-handover", "appeared", func(ep *corev1.Endpoints) bool { return endpointsLeaders(ep) == "o1/10.15.0.1" })
	leader, standby := a, b
	if leaseHolderPID(t, ns) == b.Process.PID {
		leader, standby = b, a
	}

	// Watches open on the leader, as edge nodes keep them.
	cfg, err := leader.RESTConfigFor(controlPlane, "handover-watcher", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	var watches []watch.Interface
	for range 20 {
		w, err := leaderHubClient(t, cfg).LeaderhubV1alpha1().LeaderHubs(ns).Watch(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		watches = append(watches, w)
	}

	// The standby's takeover, watched from the SIGTERM on.
	sigterm := time.Now()
	handedOver := make(chan time.Duration, 1)
	go func() {
		defer close(handedOver)
		err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, retry-2*time.Second, true, func(context.Context) (bool, error) {
			return leaseHolderPID(t, ns) == standby.Process.PID, nil
		})
		if err == nil {
			handedOver <- time.Since(sigterm)
		}
	}()
	if err := leader.Process.Stop(10 * time.Second); err != nil {
		t.Fatalf("SIGTERM with %d watches open: %v", len(watches), err)
	}
	exited := time.Since(sigterm)
	for _, w := range watches {
		for range w.ResultChan() { // the initial ADDED, then the end
		}
	}
	if log := leader.Process.Tail(64 << 10); !strings.Contains(log, "controller lease released") ||
		!strings.Contains(log, "ended every view watch") {
		t.Errorf("the log does not say the watches ended and the lease was released:\n%s", log)
	}
	tookOver, ok := <-handedOver
	if !ok {
		t.Fatalf("the standby did not take the released lease before its next retry (%v)", retry)
	}
	// The controllers stop at SIGTERM, not when the server stops serving
	// after the delay: no Endpoints write waits for the delay.
	if tookOver >= delay {
		t.Errorf("the standby held the lease %v after SIGTERM, want it before the shutdown delay (%v) is over", tookOver, delay)
	}
	setLeaders(t, "handover", leaders("o2=10.15.0.2"))
	waitEndpoints(t, ns, "leader-hub-handover", "written by the standby", func(ep *corev1.Endpoints) bool { return endpointsLeaders(ep) == "o2/10.15.0.2" })
	t.Logf("SIGTERM with %d view watches open and a %v shutdown delay: exited after %v; the standby held the lease %v after SIGTERM",
		len(watches), delay, exited.Round(10*time.Millisecond), tookOver.Round(10*time.Millisecond))

	// One replica left: stopped, then started again, as a single-replica
	// restart goes.
	if err := standby.Process.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	c := startInNamespace(t, "leaderhub-handover-c", ns, election...)
	err = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, retry-2*time.Second, true, func(context.Context) (bool, error) {
		return leaseHolderPID(t, ns) == c.Process.PID, nil
	})
	if err != nil {
		t.Fatal("a new replica did not take the released lease at once")
	}
	t.Logf("a replica started after the last one exited held the lease %v after its start", time.Since(restarted).Round(10*time.Millisecond))
}
