// Package api is tokend's HTTP edge: it routes, decodes and validates
// requests, and answers them in Elasticsearch's and OAuth's shapes, headers,
// status codes and errors, so that the official Elasticsearch clients work
// against it.
//
// It holds routing, middleware, request decoding and validation, the
// Elasticsearch and OAuth shapes and the one place errors become answers
// (classify). Everything that involves the other nodes (forwarding and
// batching writes to the leader, read leases and catch-up, revocation
// waits, membership housekeeping, the command clock) is package cluster's
// (raftnode/cluster), which New builds over the node; the routes reach it
// only through small interfaces declared here as they need them
// (coordination.go), which newServer takes from any implementation, and
// answer its typed errors 503 (fromCluster).
//
// Server owns the router, the adapters that run a route here or on the
// leader (local, leader, leaderWrite), the middleware and the error
// answers. The routes are served by groups that share one set of
// dependencies (deps, fields only): tokenRoutes (grants, invalidation,
// revocation, introspection, _authenticate), securityRoutes (users, roles,
// privileges), clusterRoutes (what operators and monitoring call) and
// peerRoutes (what the other nodes call). Each asks the gate who a request
// comes from and what it may do, and proposes through the committer.
//
// Write path: a write route (token refresh/invalidate, user changes, join,
// remove) runs on the leader (leaderWrite, leader) and proposes its
// command through writes.Propose; a follower hands the request to the
// forwarder, which proxies it to the leader and answers with the leader's
// response once it has applied the leader's write. Password and
// client_credentials grants are served by the node that receives them: it
// checks the credentials, draws the tokens and proposes the creation
// through writes.ProposeToken, which batches it with others. The entry
// re-checks the credentials it was granted on, so a password changed
// meanwhile gets no token.
//
// Read path: authentication and user lookups are answered from the local
// fsm.FSM once reads.CheckFresh allows it. A token or user that is not
// found locally (or a password that does not match) first makes the node
// catch up to the leader's commit index (reads.CatchUp), so that anything
// another node answered 200 for is seen here.
//
// Revocation path: a route that revokes (invalidations, disabled or deleted
// users, password changes, refresh replays, restores), new or repeated,
// answers only once revocations.Await has returned for the entry's index,
// so that after a 200 no node accepts the revoked token or credentials.
//
// Snapshots: GET and PUT /_tokend/snapshot (snapshot.go) save and restore
// the whole state; a follower streams both bodies to and from the leader
// (forwarder.Stream), never holding a snapshot in memory.
//
// Whether a password, token or node proof is genuine, and how fast anyone
// may guess, is decided by package credentials (api/credentials); api reads
// the credentials off the request and words its answers.
package api
