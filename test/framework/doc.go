// Package framework starts and stops a real control plane for leaderhub's
// integration tests and local demo: etcd and kube-apiserver (with the
// aggregation layer configured) on free loopback ports, in a directory of its
// own, from the binaries hack/build-controlplane.sh puts in _output/bin. It
// makes the certificates with Go's crypto, writes an admin kubeconfig,
// installs the NodePool CRD, and stops every process it started by PID.
package framework
