package cluster

import "time"

// Hooks for the tests of the HTTP edge, which drive a Cluster over a fake
// node through the edge's own routes and must make time pass at once for
// one part of it.

// DropLease gives up this node's read lease, as a restart or a pause longer
// than the lease does: the next read catches up with the leader first.
func (r *Reads) DropLease() { r.lease.held.Store(nil) }

// JoinedCatchUps counts the callers that joined a catch-up another caller
// had asked for (CatchUp).
func (r *Reads) JoinedCatchUps() int64 { return r.lease.flights.joined.Load() }

// SetGrantLength makes the leader count every read lease it grants from
// now on for d, instead of maxStaleness. Call it before the node serves.
func (c *Cluster) SetGrantLength(d time.Duration) { c.reads.grants = newLeaseLedger(d) }

// EndStartupGrace ends the start-up grace of the "no leader" answer
// (NoLeader) at once, as if this node had started that long ago.
func (m *Members) EndStartupGrace() { m.started.Store(time.Now().Add(-startupGrace).UnixNano()) }
