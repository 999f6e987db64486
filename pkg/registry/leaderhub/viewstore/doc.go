// Package viewstore is the watchable in-memory store behind the LeaderHub
// view. A client-go reflector on NodePools feeds it (it implements the
// reflector's store contract, as kube-apiserver's watch cache does, so it
// sees relists and bookmark resource versions); it keeps one projected
// LeaderHub per pool, emits an event only when a projection changes, keeps a
// bounded history so watches resume from recent resource versions, filters
// events per watcher, sends bookmarks, and drops watchers that stop reading.
// Resource versions are the NodePools' own, from the etcd behind
// kube-apiserver, so every replica of leaderhub agrees on them.
package viewstore
