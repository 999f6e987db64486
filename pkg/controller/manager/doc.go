// Package manager runs everything leaderhub-apiserver does besides serving
// requests, as kube-controller-manager runs its informers and controllers:
// the NodePool and Node feeds (pkg/feed), the hub-leader election tracker,
// the object caches of the materialized forms, the enabled controllers
// (materialize, and the opt-in hubleader elector), their Events, and the
// controller lease under which one replica at a time runs the controllers.
// The feeds, the tracker and the object caches run on every replica, so a
// replica that takes the lease over starts warm. New builds all of it, so a
// misconfiguration stops the process before it serves; Run runs it and
// returns once all of it has stopped.
package manager
