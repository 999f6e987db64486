// Package viewstore is the watchable in-memory store behind the LeaderHub
// view. It keeps, per NodePool, an immutable entry holding the compact
// projection.Pool it publishes and what it leaves out, never LeaderHub
// objects: those are built from entries when served. It emits an event only
// when a projection changes, keeps a bounded history so watches resume from
// recent resource versions, filters events per watcher, sends bookmarks, and
// drops watchers that stop reading. Resource versions are the NodePools' own,
// from the etcd behind kube-apiserver, so every replica agrees on them.
//
// One Store serves three users, each through its own file:
//
//   - reflector.go: leaderhub's one NodePool reflector (feed.NodePools) feeds
//     it before anything else, through the reflector's store contract (Add, Update, Delete, Replace, and the
//     resource-version and bookmark hooks), as kube-apiserver's watch cache
//     is fed; a relist is diffed into ordinary events (state.go follows one
//     pool's state from version to version);
//   - read.go: the REST storage reads it (Get, List, Watch), and watchers
//     (watcher.go) receive its events;
//   - pools.go: the materialize controller reads each pool's State, and is
//     told which pools changed (the embedded feed.Listeners).
//
// Locking rules. One RWMutex, Store.mu, guards the entries, the history, the
// resource version and the watcher set with every watcher's feeding,
// pending, closed and resultClosed fields. The listeners have a lock of their
// own, always taken after Store.mu.
//
//   - Writers (reflector calls, Run's bookmarks, Watch registering and Stop
//     removing a watcher, a feeder handing over) hold it exclusively; they
//     do the costly work (projecting a NodePool, building objects) before
//     taking it or after releasing it. Entries never change once stored, so
//     readers may keep and use them after unlocking.
//   - Nothing under the lock blocks: events go into each watcher's buffered
//     result channel only when there is room (else the watcher is dropped),
//     or into its pending list while a feeder sends its initial events.
//   - A watcher's result channel is closed exactly once, by
//     closeResultLocked, when the watcher is out of the set and no feeder
//     sends to it, whichever of the two happens last.
//   - Listeners are called with the lock held: they must only queue.
package viewstore
