// Package instancemetrics holds what leaderhub's components need to own
// their metrics per instance: the Registry they register with (the
// process's legacy registry, served on /metrics, in the server; a fresh
// registry in tests), and Gauges, gauges computed from the instance when
// scraped, so an instance keeps no gauge state and two instances in one
// process never overwrite each other.
package instancemetrics
