// Package projection computes what leaderhub publishes for one OpenYurt
// NodePool. Project validates a NodePool and packs what is published of it
// into a Pool (pool.go): its name, uid and creation time, its two settings,
// its pool-scoped metadata and its valid leaders, sorted. Every form is built
// from a Pool and nothing else (forms.go): the LeaderHub the view serves, the
// core/v1 Endpoints and the ConfigMap upstream YurtHub reads, with the label
// and annotation keys leaderhub owns declared once (meta.go). It is pure and
// deterministic: the same NodePool always gives the same Pool, whatever the
// order of its leaders or metadata, so the forms agree and an unchanged
// projection is found by comparing Pools.
package projection
