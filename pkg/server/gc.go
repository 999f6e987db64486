package server

// DefaultGCPercent is the Go GC target leaderhub-apiserver runs with when
// the environment does not set GOGC. Most of leaderhub's live heap is the
// long-lived view and caches, and most of what it allocates is garbage soon
// (decoded NodePools, objects built to serve or to compare), so Go's default
// of 100, which lets the heap grow to twice the live heap before it
// collects, mostly holds garbage: at 10,000 pools that is more memory than
// the pools themselves. 50 lets the heap grow by half instead, for twice as
// many collections of a heap that is small (docs/benchmarks.md, scenario 7;
// docs/operations.md, "Memory").
const DefaultGCPercent = 50
