// Package workers runs the workers of leaderhub's workqueue controllers
// (materialize and hubleader): n goroutines that take keys off a queue
// until the controller stops, then a clean shutdown of the queue.
package workers
