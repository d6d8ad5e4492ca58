package raftnode

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

var (
	// ErrNotLeader: this node is not the leader, so nothing was proposed or
	// read. Retry the same request on the leader (see Node.Leader); it is safe
	// to forward immediately.
	ErrNotLeader = errors.New("raftnode: not the leader")

	// ErrNoLeader: this node is not the leader and knows of no leader (an
	// election or a leadership transfer is running, or quorum is lost).
	// Nothing was proposed. Retry after a backoff of about an election
	// timeout. It wraps ErrNotLeader, so errors.Is(err, ErrNotLeader) also
	// holds: test for ErrNoLeader first when the two need different handling.
	ErrNoLeader = fmt.Errorf("%w: no leader known", ErrNotLeader)

	// ErrIndeterminate: the entry was handed to Raft but its outcome is
	// unknown (leadership was lost, or the deadline passed before it
	// committed). It may have been applied, now or later. Retry with the SAME
	// request ID so that the FSM deduplicates it; never with a new one.
	ErrIndeterminate = errors.New("raftnode: outcome unknown")

	// ErrShutdown: the node is shut down (or was removed from the cluster and
	// stopped). Do not retry on this node.
	ErrShutdown = errors.New("raftnode: shut down")

	// ErrNotFound: the server named by Remove is not a member of the cluster.
	// Retrying will not help; the desired state already holds.
	ErrNotFound = errors.New("raftnode: server not found")

	// ErrNotVoter: leadership was to go to a server that is not a voter (a
	// non-voter not promoted yet). Name a voter, or wait for the promotion.
	ErrNotVoter = errors.New("raftnode: server is not a voter")

	// ErrHasState: Bootstrap was refused because this node already has Raft
	// state (it was bootstrapped or joined before). Not an error to retry:
	// the node rejoins its cluster from its data directory.
	ErrHasState = errors.New("raftnode: node already has raft state")

	// ErrInvalidConfig: Config.Validate refused a value. Fix the
	// configuration; retrying will not help.
	ErrInvalidConfig = errors.New("raftnode: invalid config")
)

// notLeaderErr returns ErrShutdown, ErrNoLeader or ErrNotLeader (naming the
// leader), whichever describes this node now.
func (n *Node) notLeaderErr() error {
	if n.isShutdown() {
		return ErrShutdown
	}
	addr, id := n.raft.LeaderWithID()
	if id == "" {
		return ErrNoLeader
	}
	return fmt.Errorf("%w: leader is %s at %s", ErrNotLeader, id, addr)
}

// writeErr translates the error of an operation that may have been appended
// to the log (an Apply or a configuration change).
func (n *Node) writeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader):
		return n.notLeaderErr()
	case errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %v", ErrNoLeader, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	case errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrAbortedByRestore),
		errors.Is(err, raft.ErrEnqueueTimeout),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled):
		// ErrEnqueueTimeout means the entry never reached the log, but the
		// caller's remedy (retry with the same ID) is the same, so it is not
		// worth a sentinel of its own.
		return fmt.Errorf("%w: %w", ErrIndeterminate, err)
	}
	return fmt.Errorf("raftnode: %w", err)
}

// readErr translates the error of an operation with no effect on the state
// (VerifyLeader, the read marker): losing leadership means "ask the new
// leader", and a timeout is just a timeout.
func (n *Node) readErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader),
		errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return n.notLeaderErr()
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	}
	return fmt.Errorf("raftnode: read index: %w", err)
}

// refusal marks a configuration change that Raft refused for a reason
// outside our sentinels (typically "configuration changed since ..." when
// another change committed in between); a fresh attempt may succeed.
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// changeErr translates the error of a configuration change future, marking
// untyped refusals as worth a retry.
func (n *Node) changeErr(err error) error {
	err = n.writeErr(err)
	if err == nil || errors.Is(err, ErrNotLeader) || errors.Is(err, ErrIndeterminate) ||
		errors.Is(err, ErrShutdown) {
		return err
	}
	return &refusal{err}
}
