// Package raftnode runs tokend's replicated log: it owns every
// hashicorp/raft type and drives the pure state machine of package fsm
// through a small, documented surface.
//
// Write path: Propose encodes an fsm.Command, applies it through Raft on the
// leader and returns the fsm.Result with the entry's log index.
//
// Read path: ReadIndex (leader) returns an index that, once a node's FSM has
// applied it (WaitApplied), makes that node's local reads linearizable.
//
// Membership: Bootstrap (first node, fresh state only), Join (a new server
// enters as a non-voter), Promote (to voter, once caught up), Remove,
// TransferLeadership, TransferLeadershipTo, Servers.
//
// Backup: SaveSnapshot (a snapshot through Raft, opened for streaming),
// RestoreSnapshot (checked in full, then Raft's user restore on every node)
// and RestoreOffline (a lost cluster rebuilt around one node's data dir).
//
// Transport: every Raft connection is authenticated before Raft reads it,
// by mutual TLS (Config.TLS) or by peerauth's handshake keyed on the node
// credential (Config.Credential); one that fails is closed unread.
//
// Errors from Raft are translated at this boundary into the sentinels
// ErrNotLeader, ErrNoLeader, ErrIndeterminate, ErrShutdown, ErrNotFound and
// ErrNotVoter, wrapped with %w; each sentinel's comment says what it means for a retry.
package raftnode
