// Package api serves tokend's HTTP interface: Elasticsearch's token,
// authenticate, user and cluster-health APIs plus tokend's own cluster routes,
// answering in Elasticsearch's shapes, headers and status codes so that the
// official Elasticsearch clients work against it.
//
// Write path: a write route (token refresh/invalidate, user changes, join,
// remove) runs on the leader, which stamps a command with a request ID and
// the leader's clock and calls Node.Propose; a follower proxies the buffered
// request to the leader (forward.go), waits until it has applied the entry
// the leader reports in X-Tokend-Applied-Index, and then answers with the
// leader's response. Password and client_credentials grants are served by
// the node that receives them: it checks the credentials, draws the tokens
// and hands the creation to its batcher (batcher.go), which sends the
// creations that queue up while a batch is on its way as one batch: one
// Raft entry on the leader, one POST to the leader's propose route from a
// follower (propose.go). The entry re-checks the credentials it was granted
// on, so a password changed meanwhile gets no token.
//
// Read path: authentication and user lookups are answered from the local
// fsm.FSM. A token or user that is not found locally (or a password that does
// not match) first makes the node catch up to the leader's commit index
// (catchUp), so that anything another node answered 200 for is seen here. A
// follower out of contact with its leader for longer than maxStaleness answers
// 503 instead of guessing. A node answers from its state only under a read
// lease that the leader granted and recorded (lease.go, raftnode/lease).
// Revocations (invalidations, disabled or deleted users, password changes,
// refresh replays), new or repeated, are answered by the leader only once
// every member that may hold a lease missing them has applied them or raised
// its fence to them, or its lease has run out (awaitReplicas), so that after
// a 200 no node accepts the revoked token or credentials while token checks
// remain local reads.
//
// Snapshots: GET and PUT /_tokend/snapshot (snapshot.go) save and restore
// the whole state; a follower proxies them to the leader streaming both
// bodies (snapshot_stream.go), never holding a snapshot in memory.
//
// The package depends on the consensus layer only through the Node interface
// (and Snapshotter for the snapshot routes), declared here as the consumer
// needs it. Whether a password, token or node proof is genuine, and how
// fast anyone may guess, is decided by package api/credentials; api reads
// the credentials off the request and words its answers.
package api
