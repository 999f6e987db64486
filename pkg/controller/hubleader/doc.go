// Package hubleader is leaderhub's hub-leader elector, off unless
// --controllers names it. For every NodePool with enableLeaderElection it
// writes status.leaderEndpoints, leaderNum, leaderLastElectedTime and the
// LeaderReady condition, as upstream yurt-manager's hubleader controller
// does, but stably: a leader is kept while it is valid, empty slots are
// filled by rendezvous hashing of (pool UID, node name) so every replica and
// every restart chooses alike, it reacts to Node changes as well as NodePool
// changes, and it writes only when the leader set or the condition changes.
package hubleader
