// Package materialize is the controller that keeps, for every NodePool, real
// core/v1 objects named leader-hub-<pool> in leaderhub's namespace: an
// Endpoints (and, optionally, the ConfigMap upstream YurtHub reads), with the
// content of the view, from the same projection. It writes only when a live
// object differs in what leaderhub owns, repairs hand edits and deletions,
// deletes the objects of deleted pools, and never touches an object with the
// same name that leaderhub does not manage.
package materialize
