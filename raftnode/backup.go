package raftnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/snapshot"
)

var (
	// ErrBadSnapshot: the snapshot given to RestoreSnapshot or RestoreOffline
	// is damaged, truncated, in a format version this build does not read, or
	// not a tokend snapshot at all. Nothing was changed. Retrying with the
	// same bytes fails the same way.
	ErrBadSnapshot = errors.New("raftnode: bad snapshot")

	// ErrRestoreRunning: RestoreSnapshot was refused because another one is
	// running on this node. Nothing was changed; retry once it has finished.
	ErrRestoreRunning = errors.New("raftnode: a restore is already running")

	// ErrDataDirNotEmpty: RestoreOffline refuses a data directory that holds
	// anything, so that it never overwrites a node's state.
	ErrDataDirNotEmpty = errors.New("raftnode: data dir is not empty")
)

// restoreSpool is the file in DataDir that RestoreSnapshot receives an
// upload into. One restore runs at a time, so a fixed name is enough, and a
// spool left behind by a crash is overwritten by the next restore.
const restoreSpool = "restore.tmp"

// SavedSnapshot is a snapshot of the whole state, open for reading: the
// bytes are in the snapshot package's format, as View.WriteTo writes them.
// Close it when done.
type SavedSnapshot struct {
	// Index and Term are the Raft log position the snapshot was taken at.
	Index uint64
	Term  uint64
	// Size is the length of the stream in bytes.
	Size int64
	io.ReadCloser
}

// Restored describes a snapshot that RestoreSnapshot or RestoreOffline put
// in place.
type Restored struct {
	// Index is the log index from which the node serves the restored state:
	// a node whose AppliedIndex has reached it holds the restored state.
	Index uint64
	// Header is the snapshot's own header (the index it was taken at and
	// its record count).
	Header snapshot.Header
	// Size is the snapshot's length in bytes.
	Size int64
}

// SaveSnapshot takes a snapshot of the state through Raft and opens it.
// Leader only (ErrNotLeader or ErrNoLeader elsewhere: forward). It first
// makes sure the local state includes every write the cluster acknowledged
// before the call (ReadIndex), so the snapshot does too. Raft keeps the
// snapshot in its store as it does its own, which also compacts the log.
//
// ctx bounds taking the snapshot, not reading it. Errors: those of
// ReadIndex, ErrShutdown, or a Raft refusal (a configuration change is
// being applied) worth retrying shortly.
func (n *Node) SaveSnapshot(ctx context.Context) (*SavedSnapshot, error) {
	if _, err := n.ReadIndex(ctx); err != nil {
		return nil, err
	}
	f := n.raft.Snapshot()
	if err := await(ctx, f); err != nil {
		if errors.Is(err, raft.ErrRaftShutdown) {
			return nil, ErrShutdown
		}
		return nil, fmt.Errorf("raftnode: save snapshot: %w", err)
	}
	meta, rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("raftnode: open saved snapshot: %w", err)
	}
	return &SavedSnapshot{Index: meta.Index, Term: meta.Term, Size: meta.Size, ReadCloser: rc}, nil
}

// RestoreSnapshot replaces the whole state with the snapshot read from r,
// on every node. Leader only (ErrNotLeader or ErrNoLeader elsewhere).
//
// The snapshot is received into a file in DataDir and checked in full
// (checksum, format version and every record, fsm.CheckSnapshot) before
// anything is replaced: a bad one returns ErrBadSnapshot and the state is
// untouched. A good one is handed to Raft's user restore, which installs it
// on the leader and, through InstallSnapshot, on every follower. Writes in
// flight at that moment fail with ErrIndeterminate. The node then commits
// an entry after the restore, whose index (Restored.Index) tells when a node
// serves the restored state.
//
// Errors other than ErrBadSnapshot and ErrRestoreRunning mean nothing was
// restored, except ErrIndeterminate: leadership was lost during the restore,
// which may or may not have taken effect.
func (n *Node) RestoreSnapshot(ctx context.Context, r io.Reader) (Restored, error) {
	if !n.IsLeader() {
		return Restored{}, n.notLeaderErr()
	}
	if !n.restoring.TryLock() {
		return Restored{}, ErrRestoreRunning
	}
	defer n.restoring.Unlock()
	path := filepath.Join(n.cfg.DataDir, restoreSpool)
	spool, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return Restored{}, fmt.Errorf("raftnode: restore: %w", err)
	}
	defer func() {
		spool.Close()
		os.Remove(path)
	}()
	if _, err := receive(ctx, spool, r); err != nil {
		return Restored{}, err
	}
	hdr, size, err := checkSnapshot(spool)
	if err != nil {
		return Restored{}, err
	}
	return n.restore(ctx, spool, hdr, size)
}

// restore feeds a checked snapshot to Raft and commits an entry after it.
func (n *Node) restore(ctx context.Context, src io.Reader, hdr snapshot.Header, size int64) (Restored, error) {
	if !n.IsLeader() { // receiving may have taken a while
		return Restored{}, n.notLeaderErr()
	}
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: hdr.Index, Term: n.raft.CurrentTerm(), Size: size}
	// No timeout: Raft's timer also runs while the restore is under way, and
	// if it fired after the restore but before Raft's closing no-op was
	// queued, a restore that happened would be reported as ErrEnqueueTimeout.
	// Every Raft state answers a restore request, so this cannot hang.
	if err := n.raft.Restore(meta, src, 0); err != nil {
		return Restored{}, n.writeErr(err)
	}
	n.log.Info("restored snapshot", "snapshot_index", hdr.Index, "records", hdr.Records, "bytes", size)
	// The FSM's applied index is now the snapshot's own (older) one, and
	// the commit index names Raft's no-op, which the FSM never sees, so
	// ReadIndex would wait for the next command. A read marker moves both to
	// an index past the restore on every node that applies it, which a node
	// can only do after installing the restored snapshot.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cfg.ApplyTimeout)
	defer cancel()
	f := n.raft.Apply(readMarker, enqueueTimeout(ctx))
	if err := await(ctx, f); err != nil {
		return Restored{}, fmt.Errorf("%w: snapshot restored, but the entry after it failed: %w", ErrIndeterminate, err)
	}
	return Restored{Index: f.Index(), Header: hdr, Size: size}, nil
}

// receive copies the upload r into spool. An upload that breaks off is a
// bad snapshot (it is truncated); a failure to write the spool is the
// node's own.
func receive(ctx context.Context, spool io.Writer, r io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("raftnode: restore: receiving the snapshot: %w", err)
		}
		got, rerr := r.Read(buf)
		if _, err := spool.Write(buf[:got]); err != nil {
			return n, fmt.Errorf("raftnode: restore: spooling the snapshot: %w", err)
		}
		n += int64(got)
		switch {
		case rerr == io.EOF:
			return n, nil
		case rerr != nil:
			return n, fmt.Errorf("%w: the upload broke off after %d bytes: %w", ErrBadSnapshot, n, rerr)
		}
	}
}

// checkSnapshot checks the whole snapshot in f as the FSM would restore it
// and returns its header and size, with f rewound to the start.
func checkSnapshot(f io.ReadSeeker) (snapshot.Header, int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return snapshot.Header{}, 0, fmt.Errorf("raftnode: restore: %w", err)
	}
	hdr, err := fsm.CheckSnapshot(f)
	if err != nil {
		var pathErr *os.PathError
		if errors.As(err, &pathErr) { // the disk failed, not the snapshot
			return hdr, 0, fmt.Errorf("raftnode: restore: %w", err)
		}
		return hdr, 0, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		return hdr, 0, fmt.Errorf("raftnode: restore: %w", err)
	}
	return hdr, size, nil
}
