package raftnode

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// diskStore is raft.db as Raft sees it, both log and stable store: every
// write that fails is remembered as this node's disk condition (a full
// disk, a read-only or failing device) until a later write succeeds. The
// condition is logged once when it starts and once when it ends, never per
// write: Raft retries on its own (an election, the leader's next
// AppendEntries), so writes work again without a restart once the disk
// does.
type diskStore struct {
	*raftboltdb.BoltStore
	path string
	log  *slog.Logger

	mu    sync.Mutex
	err   error
	since time.Time
}

// note records the outcome of one write.
func (d *diskStore) note(err error) error {
	if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
		return err // shutting down, not a disk condition
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case err != nil && d.err == nil:
		d.err, d.since = fmt.Errorf("writing %s failed: %w", d.path, err), time.Now()
		d.log.Error("the disk refuses writes: this node cannot persist Raft entries or votes until it is fixed",
			"file", d.path, "err", err)
	case err != nil:
		d.err = fmt.Errorf("writing %s failed: %w", d.path, err)
	case d.err != nil:
		d.log.Info("the disk accepts writes again", "file", d.path, "after", time.Since(d.since).Round(time.Millisecond))
		d.err, d.since = nil, time.Time{}
	}
	return err
}

// condition returns the current disk error and when it started, or nil.
func (d *diskStore) condition() (error, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err, d.since
}

// StoreLog implements raft.LogStore.
func (d *diskStore) StoreLog(l *raft.Log) error { return d.note(d.BoltStore.StoreLog(l)) }

// StoreLogs implements raft.LogStore.
func (d *diskStore) StoreLogs(logs []*raft.Log) error { return d.note(d.BoltStore.StoreLogs(logs)) }

// DeleteRange implements raft.LogStore.
func (d *diskStore) DeleteRange(lo, hi uint64) error { return d.note(d.BoltStore.DeleteRange(lo, hi)) }

// Set implements raft.StableStore.
func (d *diskStore) Set(k, v []byte) error { return d.note(d.BoltStore.Set(k, v)) }

// SetUint64 implements raft.StableStore.
func (d *diskStore) SetUint64(k []byte, v uint64) error { return d.note(d.BoltStore.SetUint64(k, v)) }

// DiskError returns the error of this node's last failed write to raft.db
// (for example "no space left on device") and when the condition began,
// or nil while writes succeed. It clears at the next write that succeeds.
func (n *Node) DiskError() (error, time.Time) {
	if n.st.disk == nil {
		return nil, time.Time{}
	}
	return n.st.disk.condition()
}
