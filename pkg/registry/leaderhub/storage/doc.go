// Package storage is the REST storage of leaderhubs: a read-only resource
// (get, list, watch) served from the view store, with kubectl's table
// columns. Write verbs are not implemented, so the API server answers them
// with 405 Method Not Allowed.
package storage
