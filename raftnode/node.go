package raftnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/tokend/tokend/fsm"
)

const (
	snapshotsRetained = 2
	logCacheSize      = 512
	transportMaxPool  = 3
	transportTimeout  = 10 * time.Second
	// boltOpenTimeout makes a second process on the same DataDir fail
	// instead of blocking forever on bolt's file lock.
	boltOpenTimeout = 2 * time.Second
)

// Node is one member of a tokend Raft cluster. It is safe for concurrent
// use. Create it with Open and stop it with Shutdown.
type Node struct {
	cfg     Config
	log     *slog.Logger
	hlog    hclog.Logger
	fsm     *fsm.FSM
	adapter *fsmAdapter

	st   *storage // raft.db, the snapshots and the transport Raft runs on
	raft *raft.Raft

	hasState      bool
	leaderChanges atomic.Uint64
	m             *nodeMetrics
	// leaderNotify is broadcast at every leader change (LeaderChange).
	leaderNotify notifier

	// readyTerm is the last term in which ReadIndex saw its marker entry
	// committed; termSem serialises writing that marker.
	readyTerm atomic.Uint64
	termSem   chan struct{}

	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error

	// restoring admits one RestoreSnapshot at a time (backup.go).
	restoring sync.Mutex
}

// Open starts a node: it opens the Raft stores in cfg.DataDir, listens on
// cfg.RaftBind and starts Raft with f as the state machine. A node with
// existing state (HasState) rejoins its cluster by itself; a fresh node
// waits until it is bootstrapped (Bootstrap) or added by a leader (Join).
func Open(cfg Config, f *fsm.FSM) (*Node, error) {
	if f == nil {
		return nil, fmt.Errorf("%w: nil FSM", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:     cfg,
		log:     cfg.Logger.With("node", cfg.NodeID),
		fsm:     f,
		adapter: &fsmAdapter{f: f, obs: cfg.Observer},
		termSem: make(chan struct{}, 1),
		closed:  make(chan struct{}),
	}
	n.m = newNodeMetrics(n)
	libraryMetrics() // installed before Raft starts, so that it misses nothing
	n.hlog = newHCLogger(n.log, "raft")
	st, err := openStorage(cfg, n.log, n.hlog, (&authFailLog{n: n}).refused)
	if err != nil {
		return nil, err
	}
	n.st = st
	if err := n.newRaft(); err != nil {
		_ = st.close()
		return nil, err
	}
	if err := registerMetrics(cfg.Metrics, n.m); err != nil {
		return nil, errors.Join(err, n.Shutdown())
	}
	return n, nil
}

// newRaft records whether state exists and starts Raft, which restores the
// latest snapshot and replays the log into the FSM.
func (n *Node) newRaft() error {
	has, err := raft.HasExistingState(n.st.logs, n.st.store, n.st.snaps)
	if err != nil {
		return fmt.Errorf("raftnode: inspect state: %w", err)
	}
	n.hasState = has
	r, err := raft.NewRaft(n.cfg.raftConfig(n.hlog), n.adapter, n.st.logs, n.st.disk, n.st.snaps, WithoutPipeline(n.st.trans))
	if err != nil {
		return fmt.Errorf("raftnode: start raft: %w", err)
	}
	n.raft = r
	n.observeLeaderChanges()
	return nil
}

// HasState reports whether the node had Raft state (log, term or snapshot)
// when it was opened. Such a node must not be bootstrapped.
func (n *Node) HasState() bool { return n.hasState }

// Bootstrap makes this node the single voter of a new cluster. Call it only
// on a fresh node (HasState false) and only when the operator asked for a new
// cluster: bootstrapping two fresh nodes separately creates two clusters
// that can never merge. On a node with state it returns ErrHasState.
func (n *Node) Bootstrap() error {
	if n.hasState {
		return ErrHasState
	}
	cfg := raft.Configuration{Servers: []raft.Server{{
		Suffrage: raft.Voter,
		ID:       raft.ServerID(n.cfg.NodeID),
		Address:  n.st.trans.LocalAddr(),
	}}}
	err := n.raft.BootstrapCluster(cfg).Error()
	switch {
	case errors.Is(err, raft.ErrCantBootstrap):
		return ErrHasState
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	case err != nil:
		return fmt.Errorf("raftnode: bootstrap: %w", err)
	}
	return nil
}

// Shutdown stops the node. A leader with other voters first hands
// leadership over (waiting at most two election timeouts), so the cluster
// does not sit through an election timeout without a leader. Then Raft
// stops, and the transport and raft.db are closed. Safe to call more than
// once; later calls return the first call's result.
func (n *Node) Shutdown() error {
	n.closeOnce.Do(func() {
		n.handOver()
		close(n.closed)
		var errs []error
		if err := n.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("raftnode: raft shutdown: %w", err))
		}
		errs = append(errs, n.st.close())
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// handOver transfers leadership before a shutdown, if there is anyone to
// transfer it to. Failure is logged: the cluster then elects a leader after
// an election timeout, as it would after a crash.
func (n *Node) handOver() {
	if !n.IsLeader() || !hasOtherVoter(n.raft.GetConfiguration(), n.cfg.NodeID) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*n.cfg.ElectionTimeout)
	defer cancel()
	if err := n.TransferLeadership(ctx); err != nil {
		n.log.Warn("leadership transfer before shutdown failed", "err", err)
	}
}

// isShutdown reports whether Shutdown was called or Raft stopped on its own
// (after this node was removed from the cluster).
func (n *Node) isShutdown() bool {
	select {
	case <-n.closed:
		return true
	default:
		return n.raft.State() == raft.Shutdown
	}
}
