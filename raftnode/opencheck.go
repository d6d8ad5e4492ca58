package raftnode

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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

// openBoltChecked opens raft.db after checkBolt found it sound. bbolt
// panics, or faults on a garbage page, instead of returning errors; both
// are turned into ErrDamaged, in the goroutine that opens the store, so
// that damage is reported as an error naming the file and not as a Go
// trace. The store is opened for writing only after that read-only check:
// bbolt's first write transaction trusts the page headers, and garbage
// there can make it loop for a very long time.
func openBoltChecked(path string) (store *raftboltdb.BoltStore, err error) {
	if err := checkBolt(path); err != nil {
		return nil, err
	}
	var file *os.File
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverDamage(path, &file, func() {
		if store != nil {
			_ = store.Close()
		}
		store = nil
	}, &err)
	opts := &bbolt.Options{Timeout: boltOpenTimeout, OpenFile: keepFile(&file)}
	store, err = raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: opts})
	if err != nil {
		return nil, openError(path, err)
	}
	return store, nil
}

// checkBolt opens an existing raft.db, reads it in read transactions only
// and reads every page it can reach: each page header (an overflow beyond the file is damage),
// then every bucket, key and value.
func checkBolt(path string) (err error) {
	if fi, statErr := os.Stat(path); errors.Is(statErr, fs.ErrNotExist) || (statErr == nil && fi.Size() == 0) {
		return nil // new: bbolt initialises it
	}
	var file *os.File
	var db *bbolt.DB
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverDamage(path, &file, func() {
		if db != nil {
			_ = db.Close()
		}
	}, &err)
	// Not bbolt's ReadOnly mode: it skips the freelist, which tx.Page needs.
	// Opening writes nothing; only read transactions follow.
	opts := &bbolt.Options{Timeout: boltOpenTimeout, OpenFile: keepFile(&file)}
	db, err = bbolt.Open(path, 0o600, opts)
	if err != nil {
		return openError(path, err)
	}
	if err := db.View(walkPages); err != nil {
		_ = db.Close()
		return fmt.Errorf("%w: %s is damaged (%v)", ErrDamaged, path, err)
	}
	return db.Close()
}

// walkPages checks the overflow of each page in use against the file's
// page count, then reads every key and value of every bucket. Free pages
// are skipped: after a crash they hold whatever an aborted transaction
// left, which bbolt never reads. So are the continuation pages of a node
// that overflows: their "headers" are the node's data.
func walkPages(tx *bbolt.Tx) error {
	pages := int(tx.Size() / int64(tx.DB().Info().PageSize))
	for id := 0; id < pages; {
		info, err := tx.Page(id)
		if err != nil {
			return err
		}
		if info == nil {
			break
		}
		if info.Type == "free" {
			id++
			continue
		}
		if info.OverflowCount < 0 || id+info.OverflowCount >= pages {
			return fmt.Errorf("page %d overflows past the end of the file (%d pages)", id, pages)
		}
		id += 1 + info.OverflowCount
	}
	return tx.ForEach(func(_ []byte, b *bbolt.Bucket) error {
		return b.ForEach(func(_, _ []byte) error { return nil })
	})
}

// keepFile is a bbolt OpenFile that keeps the file it opens in *f.
func keepFile(f **os.File) func(string, int, os.FileMode) (*os.File, error) {
	return func(name string, flag int, mode os.FileMode) (*os.File, error) {
		file, err := os.OpenFile(name, flag, mode)
		*f = file
		return file, err
	}
}

// recoverDamage, deferred, turns a bbolt panic or fault into ErrDamaged in
// *err. After a panic bbolt may not close cleanly (or, inside Open, leave
// no handle to close), so after cleanup the file bbolt opened is unlocked
// and closed; bbolt's memory map of it may stay until the process ends,
// which a node that refuses to start soon does.
func recoverDamage(path string, file **os.File, cleanup func(), err *error) {
	r := recover()
	if r == nil {
		return
	}
	cleanup()
	if *file != nil {
		unlockFile(*file)
		_ = (*file).Close() // perhaps again after cleanup: harmless
	}
	*err = fmt.Errorf("%w: %s is damaged (%v)", ErrDamaged, path, r)
}

// openError describes a failed bbolt open: another process holding the
// lock, or a damaged file.
func openError(path string, err error) error {
	if errors.Is(err, bbolt.ErrTimeout) {
		return fmt.Errorf("%s is locked by another process (is another tokend using this data dir?): %w", path, err)
	}
	return fmt.Errorf("%w: %s cannot be opened: %v", ErrDamaged, path, err)
}

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
