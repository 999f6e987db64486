// Package runner is the skeleton both of leaderhub's workqueue controllers
// (materialize and hubleader) run in: one rate-limited queue of pool names,
// fed by the listeners of the parts that hold pool state (feed.Notifier), a
// wait for those parts to sync, every pool queued at start and at each
// resync (never more than a few hundred waiting at once), n workers taking
// pools off the queue, backoff on errors, a recheck after a delay on
// request, crash handling, and a running flag for the controllers' metrics. A controller brings only its sync and how it
// counts and logs a failure.
package runner
