// Package projection computes what leaderhub publishes for one OpenYurt
// NodePool: the LeaderHub named leader-hub-<pool>, with the pool's valid
// leaders sorted by node name, the leader-hub port, the contract labels and
// annotations, and an owner reference to the NodePool. It is pure and
// deterministic: the same NodePool always gives the same object, whatever the
// order of its leaders or metadata, so the view and the materialized objects
// agree and an unchanged projection can be detected by comparison.
package projection
