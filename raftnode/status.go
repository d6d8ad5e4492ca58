package raftnode

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Stats is a snapshot of this node's Raft health, for metrics and status
// endpoints.
type Stats struct {
	ID         string
	State      string // Follower, Candidate, Leader or Shutdown
	LeaderID   string // "" when unknown
	LeaderAddr string // the leader's Raft address, "" when unknown
	Term       uint64
	// CommitIndex is Raft's commit index as known here; AppliedIndex is the
	// FSM's own (see Node.AppliedIndex); LastLogIndex the last index in the
	// local log.
	CommitIndex  uint64
	AppliedIndex uint64
	LastLogIndex uint64
	// LastContact is when this follower last heard from a leader; zero on
	// the leader. Its age bounds how stale local reads can be.
	LastContact time.Time
	// LeaderChanges counts the leader changes this node has observed since
	// Open, including changes to "no leader". Counted from Raft's
	// observations (LeaderCh would drop some).
	LeaderChanges uint64
	// DiskError is this node's disk condition (see Node.DiskError): ""
	// while raft.db accepts writes; DiskErrorSince is when it began.
	DiskError      string
	DiskErrorSince time.Time
}

// ID returns this node's Raft server ID.
func (n *Node) ID() string { return n.cfg.NodeID }

// Addr returns the Raft address this node advertises, e.g. for Join.
func (n *Node) Addr() string { return string(n.st.trans.LocalAddr()) }

// IsLeader reports whether this node believes it is the leader. The belief
// can be stale for up to LeaderLeaseTimeout; use ReadIndex when it matters.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Term returns the current Raft term.
func (n *Node) Term() uint64 { return n.raft.CurrentTerm() }

// Leader returns the current leader's server ID and Raft address as this
// node knows them, or "" for both when it knows of no leader.
func (n *Node) Leader() (id, raftAddr string) {
	addr, sid := n.raft.LeaderWithID()
	return string(sid), string(addr)
}

// LastContact is when this node last heard from its leader: zero on the
// leader and before any contact. Cheaper than Stats for per-request checks.
func (n *Node) LastContact() time.Time { return n.raft.LastContact() }

// AppliedIndex is the index of the last command this node's FSM applied
// (fsm.FSM.AppliedIndex), not Raft's own applied index, which counts entries
// merely handed to the FSM goroutine.
func (n *Node) AppliedIndex() uint64 { return n.fsm.AppliedIndex() }

// Stats returns this node's Raft health.
func (n *Node) Stats() Stats {
	addr, leader := n.raft.LeaderWithID()
	state := n.raft.State()
	s := Stats{
		ID:           n.cfg.NodeID,
		State:        state.String(),
		LeaderID:     string(leader),
		LeaderAddr:   string(addr),
		Term:         n.raft.CurrentTerm(),
		CommitIndex:  n.raft.CommitIndex(),
		AppliedIndex: n.fsm.AppliedIndex(),
		LastLogIndex: n.raft.LastIndex(),

		LeaderChanges: n.leaderChanges.Load(),
	}
	if state != raft.Leader {
		s.LastContact = n.LastContact()
	}
	if err, since := n.DiskError(); err != nil {
		s.DiskError, s.DiskErrorSince = err.Error(), since
	}
	return s
}

// Snapshot makes Raft take a snapshot now and compact its log down to
// TrailingLogs entries. Having nothing new to snapshot is not an error.
func (n *Node) Snapshot() error {
	err := n.raft.Snapshot().Error()
	switch {
	case err == nil, errors.Is(err, raft.ErrNothingNewToSnapshot):
		return nil
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	}
	return fmt.Errorf("raftnode: snapshot: %w", err)
}

// LeaderChange returns a channel that is closed at the next leader change
// this node observes, including a change to "no leader". Take it before
// reading Leader, so that a change in between is not missed.
func (n *Node) LeaderChange() <-chan struct{} { return n.leaderNotify.wait() }

// observeLeaderChanges counts LeaderObservations and wakes LeaderChange's
// waiters. Both happen in the observer's filter, synchronously in Raft's
// goroutine, and nothing is ever sent to a channel, so no observation can be
// dropped.
func (n *Node) observeLeaderChanges() {
	n.raft.RegisterObserver(raft.NewObserver(nil, false, func(o *raft.Observation) bool {
		if _, ok := o.Data.(raft.LeaderObservation); ok {
			n.leaderChanges.Add(1)
			n.m.leaderChanges.Inc()
			n.leaderNotify.broadcast()
		}
		return false
	}))
}
