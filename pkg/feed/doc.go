// Package feed carries what leaderhub reads from the cluster to every part
// that uses it, along one path each. NodePools come through one reflector
// (NodePools) whose store hands each of them to the view first, which keeps
// their resource versions and bookmarks, and then to its followers (the
// election tracker). Nodes come through one reflector whose store (Nodes)
// keeps each as a compact Node, by name and by pool, drops heartbeats, and
// tells its handler (the election tracker) of the rest; the node authorizer
// reads it too. The parts that hold per-pool state tell the controllers which
// pool changed through one listener type (Listener, kept in a Listeners
// set); a controller's queue is the usual listener.
package feed
