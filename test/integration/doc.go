// Package integration holds leaderhub's integration tests. They run against a
// real etcd and kube-apiserver started by test/framework on loopback ports,
// using the generated clientset and informers and the real kubectl.
package integration
