// Command standinleader stands in for a leader YurtHub in the YurtHub
// integration test: run inside a network namespace the test made, it listens
// on the given addresses and logs every connection it accepts (local and
// remote address) before closing it, so the test sees which leader address a
// follower YurtHub dialed. It speaks no TLS: a follower's health check is a
// TCP dial, and what it sends after that is not the test's concern.
package main
