// Package election watches every NodePool's hub-leader election: from the
// NodePools the view already reads and a slimmed Node cache, it judges for
// each pool whether its published leaders are valid (the Node exists, is in
// the pool, is Ready and has that InternalIP), how many it wants and how many
// Nodes could lead, times each election (from the moment a pool needs leaders
// to the moment it has as many valid ones as it can), counts it as succeeded
// or failed against a deadline, and exports all of it as metrics. It never
// writes; the hubleader controller, which does, reads the pools and Nodes
// through it.
package election
