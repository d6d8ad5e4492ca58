package raftnode

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/tokend/tokend/fsm"
)

// readMarker is the entry ReadIndex commits once per leader term. Its type
// (0xFF) has fsm.IgnorableFlag set and is reserved for raftnode, so every
// replica's fsm.Decode returns (nil, nil) and the FSM only advances its
// applied index. Unlike raft.Barrier, it reaches the adapter and has an
// index, so "the FSM has processed everything up to the commit index" can be
// waited for exactly (Barrier entries never reach the FSM, and a commit index
// that ends on one would never be "applied").
var readMarker = []byte{byte(fsm.IgnorableFlag | 0x7f), fsm.FormatVersion}

// Propose encodes c, applies it through Raft on the leader and returns the
// FSM's Result and the entry's log index, which is committed and applied on
// this node when Propose returns.
//
// Errors: ErrNotLeader or ErrNoLeader on a follower (nothing was proposed;
// forward or retry later). ErrIndeterminate when leadership was lost or the
// deadline passed after the entry was handed to Raft: it may have been
// applied, so retry with the SAME request ID and the FSM deduplicates it.
// ErrShutdown once the node is stopping. The wait is bounded by the earlier
// of ctx's deadline and Config.ApplyTimeout.
func (n *Node) Propose(ctx context.Context, c fsm.Command) (fsm.Result, uint64, error) {
	start := time.Now()
	data, err := fsm.Encode(c)
	if err != nil {
		return fsm.Result{}, 0, fmt.Errorf("raftnode: propose: %w", err)
	}
	if len(data) > raft.SuggestedMaxDataSize {
		return fsm.Result{}, 0, fmt.Errorf("raftnode: propose: entry of %d bytes exceeds %d",
			len(data), raft.SuggestedMaxDataSize)
	}
	if err := ctx.Err(); err != nil {
		return fsm.Result{}, 0, fmt.Errorf("raftnode: propose: %w", err)
	}
	if !n.IsLeader() {
		return fsm.Result{}, 0, n.notLeaderErr()
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ApplyTimeout)
	defer cancel()
	future := n.raft.Apply(data, enqueueTimeout(ctx))
	if err := await(ctx, future); err != nil {
		return fsm.Result{}, 0, n.writeErr(err)
	}
	res, ok := future.Response().(fsm.Result)
	if !ok {
		return fsm.Result{}, future.Index(), fmt.Errorf("raftnode: propose: unexpected FSM response %T", future.Response())
	}
	n.m.propose.Observe(time.Since(start).Seconds())
	return res, future.Index(), nil
}

// WaitApplied blocks until this node's FSM has applied index (AppliedIndex
// >= index), ctx ends (its error is returned, wrapped) or the node shuts down
// (ErrShutdown). Pass it an index from Propose or ReadIndex.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	return n.waitFor(ctx, index, n.fsm.AppliedIndex)
}

// ReadIndex makes a linearizable read possible. On the leader it confirms
// leadership with a quorum (VerifyLeader), makes sure an entry of the current
// term is committed (once per term), takes the commit index and waits until
// the local FSM has processed everything up to it. It returns the FSM's
// applied index at that point: the same state as at the commit index, and an
// index that any node's WaitApplied will reach. (The commit index itself may
// name an entry the FSM never sees, such as a new leader's no-op.)
//
// Reads of this node's FSM after ReadIndex returns see every write that
// completed before it was called; another node sees them after
// WaitApplied(ctx, index). Errors: ErrNotLeader or ErrNoLeader on a follower
// or a deposed leader (nothing to undo; ask the leader), ErrShutdown, or the
// context's error.
func (n *Node) ReadIndex(ctx context.Context) (uint64, error) {
	if !n.IsLeader() {
		return 0, n.notLeaderErr()
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ApplyTimeout)
	defer cancel()
	if err := n.verifyLeader(ctx); err != nil {
		return 0, n.readErr(err)
	}
	term, err := n.commitTerm(ctx)
	if err != nil {
		return 0, n.readErr(err)
	}
	commit := n.raft.CommitIndex()
	// A deposed leader may already have learnt a newer term's commit index,
	// whose no-op the adapter never sees; refuse rather than wait for it.
	if n.raft.CurrentTerm() != term || !n.IsLeader() {
		return 0, n.notLeaderErr()
	}
	if err := n.waitFor(ctx, commit, n.adapter.seen.Load); err != nil {
		return 0, err
	}
	return n.fsm.AppliedIndex(), nil
}

// verifyLeader confirms that a quorum of voters still follows this leader.
// hashicorp/raft's VerifyLeader counts the acknowledgements of non-voters
// too (v1.7.3: verifyLeader asks every replication, quorumSize counts
// voters), so a deposed leader that still reaches a non-voter could pass
// it. While the configuration has non-voters, leadership is confirmed by
// committing a readMarker instead: a commit needs a quorum of voters.
// The configuration is read before and after VerifyLeader, so a non-voter
// added meanwhile is noticed too.
func (n *Node) verifyLeader(ctx context.Context) error {
	if hasNonVoter(n.raft.GetConfiguration()) {
		return await(ctx, n.raft.Apply(readMarker, enqueueTimeout(ctx)))
	}
	if err := await(ctx, n.raft.VerifyLeader()); err != nil {
		return err
	}
	if hasNonVoter(n.raft.GetConfiguration()) {
		return await(ctx, n.raft.Apply(readMarker, enqueueTimeout(ctx)))
	}
	return nil
}

// commitTerm makes sure an entry of the current term is committed, which a
// new leader needs before its commit index can be trusted, by committing a
// readMarker once per term. It returns the term.
func (n *Node) commitTerm(ctx context.Context) (uint64, error) {
	term := n.raft.CurrentTerm()
	if n.readyTerm.Load() == term {
		return term, nil
	}
	select {
	case n.termSem <- struct{}{}:
		defer func() { <-n.termSem }()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if n.readyTerm.Load() == term {
		return term, nil
	}
	if err := await(ctx, n.raft.Apply(readMarker, enqueueTimeout(ctx))); err != nil {
		return 0, err
	}
	n.readyTerm.Store(term)
	return term, nil
}

// waitFor blocks until applied() >= index, woken by the adapter's broadcast.
func (n *Node) waitFor(ctx context.Context, index uint64, applied func() uint64) error {
	for {
		wake := n.adapter.notify.wait()
		if applied() >= index {
			return nil
		}
		select {
		case <-wake:
		case <-n.closed:
			return ErrShutdown
		case <-ctx.Done():
			return fmt.Errorf("raftnode: wait for index %d (applied %d): %w", index, applied(), ctx.Err())
		}
	}
}

// await waits for a Raft future or for ctx, whichever comes first. Raft
// resolves every future eventually (at the latest on shutdown), so the
// goroutine left behind when ctx wins does not leak for long.
func await(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// enqueueTimeout is the time left until ctx's deadline, for the timeout
// argument of Raft calls (it bounds only the hand-over to Raft's loop).
func enqueueTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return 0
}
