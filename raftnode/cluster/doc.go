// Package cluster coordinates the nodes' work on top of one node's Raft:
// where a write goes, when a node may answer reads, and when a revocation
// may be answered.
//
// It sits under raftnode because it is the layer right above a node's Raft
// (package raftnode, through the Node interface, with raftnode/lease and
// raftnode/peerauth) and below the HTTP edge: package api imports it and
// answers its typed errors in Elasticsearch's shapes; it imports nothing
// from api. It speaks to other nodes through their node-to-node routes
// (PathStatus, PathReadIndex, PathWaitApplied, PathPropose, PathJoin),
// signing every call with a node proof, and forwards clients' requests to
// the leader with net/http.
//
// New builds a Cluster from a Node and its fsm.FSM; its parts each have
// one job: Writes (proposals and batching), Forwarder (requests to the
// leader), Reads (read leases, fences, catch-up), Revocations (waiting for
// the lease holders), Members (membership watch, promotion, reachability,
// status) and Clock (command stamps, the voters' clock offsets). Run does
// their background work.
//
// Write path: a write route on the leader calls Writes.Propose, which
// stamps the command with the request's ID (WithRequestID) and the
// Clock and calls Node.Propose, retrying an indeterminate outcome once
// under the same ID. On a follower the edge hands the request to
// Forwarder.Relay, which proxies it to the leader with a node proof, sends
// it again under the same ID to the next leader if that one is lost
// (leaders.follow), waits until this node has applied the index the leader
// reports (HeaderAppliedIndex) and answers with the leader's response.
// Token creations go through Writes.ProposeToken: its batcher sends the
// creations that queue up while a batch is on its way as one batch, one
// Raft entry on the leader (Writes.ProposeBatch), one POST of PathPropose
// from a follower.
//
// Read path: before answering from its state, a node calls
// Reads.CheckFresh: a follower out of contact with its leader for longer
// than maxStaleness is refused (ErrLostContact), and any node needs a read
// lease that the leader granted and recorded (Reads.ServeReadIndex,
// raftnode/lease), renewed by a catch-up (Reads.CatchUp: the leader's read
// index, applied here) and kept fresh in the background; a node that was
// fenced for a revocation answers no read before applying it (FenceError).
// A token or user not found locally makes the node catch up first, so
// that anything another node answered 200 for is seen here; concurrent
// catch-ups share one round trip.
//
// Revocation path: once a revocation (an invalidation, a disabled or
// deleted user, a password change, a refresh replay, a restore) is applied
// on the leader, the edge calls Revocations.Await with its index before it
// answers: every member that may hold a lease missing it is asked
// (PathWaitApplied with fence) until it has applied the index or raised its
// fence to it (Reads.WaitApplied), or its lease has run out, so that after
// a 200 no node accepts the revoked token or credentials while token
// checks remain local reads.
package cluster
