package raftnode

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/tokend/tokend/fsm"
)

// ErrNothingToRecover: Recover was pointed at a data dir without Raft state.
var ErrNothingToRecover = errors.New("raftnode: no raft state to recover in the data dir")

// Member is one voter of the configuration Recover writes.
type Member struct {
	ID       string
	RaftAddr string
}

// Recovery says which node Recover rewrites and the members to keep.
type Recovery struct {
	// DataDir is the stopped node's data directory.
	DataDir string
	// NodeID is that node's ID; it must be one of Members.
	NodeID string
	// Members are the voters the cluster keeps: the survivors. Give every
	// survivor the same list.
	Members []Member
}

// Recover rewrites the Raft configuration of a stopped node when a majority
// of its cluster is gone for good, so that the survivors named in
// r.Members can elect a leader among themselves again. It keeps the node's
// log and snapshots: hashicorp/raft's RecoverCluster replays them, takes a
// snapshot and appends the new configuration. Run it on every survivor,
// with the same members, before starting any of them. Entries that a
// majority of the old cluster never acknowledged may be kept or lost.
func Recover(r Recovery) error {
	if err := r.validate(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(r.DataDir, "raft.db")); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s has no raft.db", ErrNothingToRecover, r.DataDir)
	}
	store, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(r.DataDir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: boltOpenTimeout},
	})
	if err != nil {
		return fmt.Errorf("raftnode: open raft.db (is the node still running?): %w", err)
	}
	defer store.Close()
	snaps, err := raft.NewFileSnapshotStoreWithLogger(r.DataDir, snapshotsRetained, hclog.NewNullLogger())
	if err != nil {
		return fmt.Errorf("raftnode: snapshot store: %w", err)
	}
	has, err := raft.HasExistingState(store, store, snaps)
	if err != nil {
		return fmt.Errorf("raftnode: inspect state: %w", err)
	}
	if !has {
		return fmt.Errorf("%w: %s", ErrNothingToRecover, r.DataDir)
	}
	conf := raft.Configuration{}
	var self raft.ServerAddress
	for _, m := range r.Members {
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.ID), Address: raft.ServerAddress(m.RaftAddr)})
		if m.ID == r.NodeID {
			self = raft.ServerAddress(m.RaftAddr)
		}
	}
	_, trans := raft.NewInmemTransport(self)
	defer trans.Close()
	cfg := Config{NodeID: r.NodeID}
	cfg.fillDefaults()
	rc := cfg.raftConfig(hclog.NewNullLogger())
	if err := raft.RecoverCluster(rc, &fsmAdapter{f: fsm.New()}, store, store, snaps, trans, conf); err != nil {
		return fmt.Errorf("raftnode: recover: %w", err)
	}
	return nil
}

// validate checks that the members are distinct, addressed, and include
// the node being recovered.
func (r Recovery) validate() error {
	if r.DataDir == "" || r.NodeID == "" {
		return fmt.Errorf("%w: DataDir and NodeID are required", ErrInvalidConfig)
	}
	seen := map[string]bool{}
	for _, m := range r.Members {
		if m.ID == "" || seen[m.ID] {
			return fmt.Errorf("%w: member IDs must be given and distinct", ErrInvalidConfig)
		}
		if err := checkAdvertise(m.RaftAddr); err != nil {
			return fmt.Errorf("member %s: %w", m.ID, err)
		}
		seen[m.ID] = true
	}
	if !seen[r.NodeID] {
		return fmt.Errorf("%w: node %s is not among the members it is to keep", ErrInvalidConfig, r.NodeID)
	}
	return nil
}
