package framework

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// NetNS is a network namespace a test made, joined to the host by a veth
// pair, with private IPv4 and IPv6 (ULA) addresses inside. Every address a
// test gives a running YurtHub as a leader's must be one of Addresses: a
// YurtHub dials what it is given, and traffic to any address off this machine
// is not the test's to make.
type NetNS struct {
	Name string
	// IPv4 and IPv6 are the namespace's own addresses, reachable from the
	// host through the veth pair.
	IPv4, IPv6 []net.IP
	host       string
}

var netnsSeq atomic.Int32

// NewNetNS makes a namespace with n IPv4 and n IPv6 addresses inside:
// 10.251.<k>.2.. /24 and fd00:251:<k>::2.. /64, the host's end .1 and ::1.
// Remove it with Delete.
func NewNetNS(n int) (ns *NetNS, err error) {
	k := int(netnsSeq.Add(1))
	id := fmt.Sprintf("%d-%d", os.Getpid()%100000, k)
	ns = &NetNS{Name: "lhtest-" + id, host: fmt.Sprintf("lh%dh%d", os.Getpid()%10000, k)}
	peer := fmt.Sprintf("lh%dn%d", os.Getpid()%10000, k)
	subnet := 100 + (os.Getpid()+k)%150
	run := func(args ...string) {
		if err != nil {
			return
		}
		if out, e := exec.Command("ip", args...).CombinedOutput(); e != nil {
			err = fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), e, out)
		}
	}
	inNS := func(args ...string) { run(append([]string{"-n", ns.Name}, args...)...) }
	run("netns", "add", ns.Name)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = ns.Delete()
		}
	}()
	run("link", "add", ns.host, "type", "veth", "peer", "name", peer, "netns", ns.Name)
	run("addr", "add", fmt.Sprintf("10.251.%d.1/24", subnet), "dev", ns.host)
	run("-6", "addr", "add", fmt.Sprintf("fd00:251:%d::1/64", subnet), "dev", ns.host, "nodad")
	run("link", "set", ns.host, "up")
	inNS("link", "set", "lo", "up")
	for i := 2; i < 2+n; i++ {
		v4, v6 := fmt.Sprintf("10.251.%d.%d", subnet, i), fmt.Sprintf("fd00:251:%d::%d", subnet, i)
		inNS("addr", "add", v4+"/24", "dev", peer)
		inNS("-6", "addr", "add", v6+"/64", "dev", peer, "nodad")
		ns.IPv4, ns.IPv6 = append(ns.IPv4, net.ParseIP(v4)), append(ns.IPv6, net.ParseIP(v6))
	}
	inNS("link", "set", peer, "up")
	return ns, err
}

// Delete removes the namespace, and with it the veth pair.
func (ns *NetNS) Delete() error {
	if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns del %s: %w: %s", ns.Name, err, out)
	}
	return nil
}

// StartStandInLeader runs test/standinleader inside the namespace, listening
// on each port at every address of the namespace; its log lists the
// connections it accepted. The caller stops it (Process.Stop).
func (ns *NetNS) StartStandInLeader(dir string, ports ...int) (*Process, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "standinleader")
	build := exec.Command("go", "build", "-o", bin, "./test/standinleader")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building test/standinleader: %w: %s", err, out)
	}
	var addrs []string
	for _, ip := range append(append([]net.IP{}, ns.IPv4...), ns.IPv6...) {
		for _, port := range ports {
			addrs = append(addrs, net.JoinHostPort(ip.String(), fmt.Sprint(port)))
		}
	}
	return startProcess(dir, "standinleader-"+ns.Name, "ip", []string{"netns", "exec", ns.Name, bin, "--listen=" + strings.Join(addrs, ",")}, false)
}
