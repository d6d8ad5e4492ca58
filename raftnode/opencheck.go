package raftnode

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// ErrDamaged marks a data dir file that is damaged: the node cannot start
// from it. The error names the file.
var ErrDamaged = errors.New("raftnode: damaged file")

// openBoltChecked opens raft.db and reads every page it can reach (each
// bucket, key and value), so that damage is found now, as an error naming
// the file, and not later as a Go panic in one of Raft's goroutines. bbolt
// panics, or faults on a garbage page, instead of returning errors: both
// are turned into ErrDamaged here, in the goroutine that opens the store.
func openBoltChecked(path string) (store *raftboltdb.BoltStore, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if store != nil {
				_ = store.Close()
			}
			store, err = nil, fmt.Errorf("%w: %s is damaged (%v)", ErrDamaged, path, r)
		}
	}()
	opts := &bbolt.Options{Timeout: boltOpenTimeout}
	store, err = raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: opts})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("%s is locked by another process (is another tokend using this data dir?): %w", path, err)
		}
		return nil, fmt.Errorf("%w: %s cannot be opened: %v", ErrDamaged, path, err)
	}
	if err := walkStore(store); err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("%w: %s is damaged (%v)", ErrDamaged, path, err)
	}
	return store, nil
}

// walkStore reads every log entry and stable key through the store's own
// API, which walks every branch and leaf page of both buckets.
func walkStore(s *raftboltdb.BoltStore) error {
	first, err := s.FirstIndex()
	if err != nil {
		return err
	}
	last, err := s.LastIndex()
	if err != nil {
		return err
	}
	var l raft.Log
	for i := first; i != 0 && i <= last; i++ {
		if err := s.GetLog(i, &l); err != nil {
			return fmt.Errorf("log entry %d of %d..%d: %w", i, first, last, err)
		}
	}
	for _, k := range stableKeys {
		if _, err := s.Get(k); err != nil && !errors.Is(err, raftboltdb.ErrKeyNotFound) {
			return fmt.Errorf("stable key %s: %w", k, err)
		}
	}
	return nil
}

// stableKeys are the keys hashicorp/raft keeps in the stable store.
var stableKeys = [][]byte{[]byte("CurrentTerm"), []byte("LastVoteTerm"), []byte("LastVoteCand")}

// checkSnapshots decides what a damaged snapshot means before Raft starts.
// Raft restores the newest snapshot that opens (FileSnapshotStore checks
// each one's CRC, and skips one whose meta.json does not parse) and falls
// back to older ones. Falling back is safe only when raft.db still holds
// every entry after the snapshot used; otherwise Raft starts with a hole in
// its history and panics when it reaches it. So: when the newest snapshot
// is damaged, the node starts from the newest good one if the log covers
// the gap, and refuses with a reason naming the damaged snapshot if not.
func checkSnapshots(snaps raft.SnapshotStore, logs raft.LogStore, dir string) error {
	list, err := snaps.List()
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrDamaged, dir, err)
	}
	damaged, reason := unlistedSnapshot(dir, list)
	for _, meta := range list {
		err := openSnapshot(snaps, meta.ID)
		if err == nil {
			if damaged == "" {
				return nil
			}
			return coveredByLog(logs, meta, damaged, reason)
		}
		if damaged == "" {
			damaged, reason = filepath.Join(dir, meta.ID), err.Error()
		}
	}
	if damaged == "" {
		return nil
	}
	return fmt.Errorf("%w: snapshot %s is damaged (%s) and no older snapshot is usable", ErrDamaged, damaged, reason)
}

// unlistedSnapshot finds a snapshot directory that FileSnapshotStore left
// out of its list because its meta.json does not parse, and names it.
func unlistedSnapshot(dir string, list []*raft.SnapshotMeta) (path, reason string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", ""
	}
	listed := make(map[string]bool, len(list))
	for _, m := range list {
		listed[m.ID] = true
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") || listed[e.Name()] {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "meta.json"))
		if err == nil && json.Valid(b) {
			continue // listed beyond the store's retention
		}
		return filepath.Join(dir, e.Name()), "its meta.json is missing or does not parse"
	}
	return "", ""
}

// openSnapshot opens a snapshot (which reads it through and checks its
// CRC) and closes it.
func openSnapshot(snaps raft.SnapshotStore, id string) error {
	_, rc, err := snaps.Open(id)
	if err != nil {
		return err
	}
	return rc.Close()
}

// coveredByLog accepts starting from the good snapshot when raft.db holds
// every entry after it, and refuses otherwise.
func coveredByLog(logs raft.LogStore, good *raft.SnapshotMeta, damaged, reason string) error {
	first, err := logs.FirstIndex()
	if err != nil {
		return err
	}
	if first != 0 && first <= good.Index+1 {
		return nil
	}
	return fmt.Errorf("%w: snapshot %s is damaged (%s), and raft.db no longer holds the entries after the older "+
		"snapshot %s (index %d; the log starts at %d)", ErrDamaged, damaged, reason, good.ID, good.Index, first)
}
