package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/tokend/tokend/raftnode"
)

// The coordination's errors say what stands in the way of a request in
// cluster terms; the HTTP edge above maps each to its answer. Every one is
// a transient cluster condition: retrying later, or on another node, may
// succeed.

// NodeError marks an error of the Node, or of waiting for it: a cluster
// condition rather than a fault of the request.
type NodeError struct {
	Err error // the Node's error
}

// Error is the Node's error.
func (e *NodeError) Error() string { return e.Err.Error() }

// Unwrap returns the Node's error.
func (e *NodeError) Unwrap() error { return e.Err }

// FromNode wraps a non-nil error from the Node as a NodeError.
func FromNode(err error) error {
	if err == nil {
		return nil
	}
	return &NodeError{err}
}

// NoLeaderError is the answer to a request that needs a leader when this
// node knows none, with what it knows of why. It unwraps to
// raftnode.ErrNoLeader.
type NoLeaderError struct {
	// Removed: the cluster removed this node (Members.CheckRemoved).
	Removed bool
	// Starting: this node started Up ago, too short a time to have
	// reached its peers, so nothing else is known.
	Starting bool
	Up       time.Duration
	// Reachable of Voters voters of this node's configuration answered
	// a probe just now (this node counts itself); 0 of 0 when unknown.
	Reachable, Voters int
}

// RemovedReason is what a node the cluster removed answers and logs.
const RemovedReason = "this node was removed from the cluster; wipe its data dir and --join again"

// Error says why there is no leader: this node was removed, it is still
// reaching its peers, the voters reachable from here are too few for a
// quorum, or an election is under way.
func (e *NoLeaderError) Error() string {
	switch {
	case e.Removed:
		return RemovedReason
	case e.Starting:
		return fmt.Sprintf("no leader is elected yet: this node started %s ago and is still reaching its peers",
			e.Up.Round(time.Millisecond))
	case e.Voters == 0:
		return "no leader is elected"
	case e.Reachable <= e.Voters/2:
		return fmt.Sprintf("no leader: quorum lost, %d of %d voters reachable", e.Reachable, e.Voters)
	}
	return fmt.Sprintf("no leader is elected yet (%d of %d voters reachable); an election is under way", e.Reachable, e.Voters)
}

// Unwrap returns raftnode.ErrNoLeader.
func (e *NoLeaderError) Unwrap() error { return raftnode.ErrNoLeader }

// LeaderUnreachableError is a call to the leader that got no usable answer:
// the leader could not be reached, or its answer could not be read.
type LeaderUnreachableError struct {
	Leader string // the leader's ID
	Err    error  // why the call failed
}

// Error names the leader and the cause.
func (e *LeaderUnreachableError) Error() string {
	return fmt.Sprintf("leader [%s] is unreachable: %v", e.Leader, e.Err)
}

// Unwrap returns the cause.
func (e *LeaderUnreachableError) Unwrap() error { return e.Err }

// LeaderAddrUnknownError is a leader whose HTTP address this node's state
// does not hold yet.
type LeaderAddrUnknownError struct {
	Leader string // the leader's ID
}

// Error names the leader.
func (e *LeaderAddrUnknownError) Error() string {
	return fmt.Sprintf("the HTTP address of leader [%s] is not known yet", e.Leader)
}

// LeaderRefusedError is the leader's error answer to a node-to-node call:
// its status and, when it answered in the Elasticsearch envelope, the
// error's type and reason.
type LeaderRefusedError struct {
	Leader       string // the leader's ID
	Status       int    // the answer's HTTP status
	Type, Reason string // the envelope's error type and reason; "" without one
}

// Error names the leader and its answer.
func (e *LeaderRefusedError) Error() string {
	return fmt.Sprintf("leader [%s] answered %d: %s: %s", e.Leader, e.Status, e.Type, e.Reason)
}

// LegacyLeaderError is a leader of an older build that takes no batches;
// the request may be retried (it then goes to the leader whole).
type LegacyLeaderError struct {
	Leader string // the leader's ID
}

// Error names the leader.
func (e *LegacyLeaderError) Error() string {
	return fmt.Sprintf("leader [%s] takes no batches (an older build)", e.Leader)
}

// FenceError is a read refused because this node has not applied yet a
// revocation the leader told it of (Reads.WaitApplied with fence).
type FenceError struct {
	Index uint64 // the revocation's log index
}

// Error names the revocation's index.
func (e *FenceError) Error() string {
	return fmt.Sprintf("this node has not applied revocation [%d] of the leader yet", e.Index)
}

// ErrLostContact is a read refused on a follower that has not heard from
// its leader for too long to trust its state.
var ErrLostContact = errors.New("this node has lost contact with the leader")
