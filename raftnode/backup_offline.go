package raftnode

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// offlineTerm is the Raft term RestoreOffline gives the snapshot it writes.
// The new cluster's first election starts from it.
const offlineTerm = 1

// OfflineRestore names the node that RestoreOffline rebuilds a cluster
// around.
type OfflineRestore struct {
	// DataDir is the new node's data directory. It must be empty or absent.
	DataDir string
	// NodeID and RaftAddr are the node's server ID and advertised Raft
	// address: start it later with the same --node-id and --raft-addr (or
	// --advertise-raft), or it will not find itself in the configuration.
	NodeID   string
	RaftAddr string
}

// RestoreOffline rebuilds a cluster from a snapshot when none of its nodes
// is left. It checks the whole snapshot (as RestoreSnapshot does; a bad one
// returns ErrBadSnapshot and writes nothing), then writes it into Raft's
// snapshot store in c.DataDir with a configuration in which c.NodeID at
// c.RaftAddr is the only voter. A node opened on that directory restores
// its state from the snapshot, elects itself and serves it; other nodes then
// join it like any cluster. c.DataDir must be empty or absent
// (ErrDataDirNotEmpty). No process may use c.DataDir meanwhile.
func RestoreOffline(c OfflineRestore, src io.ReadSeeker) (Restored, error) {
	if c.NodeID == "" || c.DataDir == "" {
		return Restored{}, fmt.Errorf("%w: NodeID and DataDir are required", ErrInvalidConfig)
	}
	if err := checkAdvertise(c.RaftAddr); err != nil {
		return Restored{}, err
	}
	if err := requireEmpty(c.DataDir); err != nil {
		return Restored{}, err
	}
	hdr, size, err := checkSnapshot(src)
	if err != nil {
		return Restored{}, err
	}
	index := max(hdr.Index, 1) // Raft's indexes start at 1
	if err := writeOffline(c, src, index); err != nil {
		return Restored{}, err
	}
	return Restored{Index: index, Header: hdr, Size: size}, nil
}

// writeOffline writes src into a new file snapshot store in c.DataDir at
// index, with c's node as the only voter. On failure it removes what it
// created.
func writeOffline(c OfflineRestore, src io.Reader, index uint64) (err error) {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("raftnode: data dir: %w", err)
	}
	defer func() {
		if err != nil {
			cleanDir(c.DataDir)
		}
	}()
	snaps, err := raft.NewFileSnapshotStoreWithLogger(c.DataDir, snapshotsRetained, hclog.NewNullLogger())
	if err != nil {
		return fmt.Errorf("raftnode: snapshot store: %w", err)
	}
	addr := raft.ServerAddress(c.RaftAddr)
	// The store asks a transport to encode the servers for old readers; an
	// in-memory one does that without opening a socket.
	_, trans := raft.NewInmemTransport(addr)
	defer trans.Close()
	conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(c.NodeID), Address: addr}}}
	sink, err := snaps.Create(raft.SnapshotVersionMax, index, offlineTerm, conf, index, trans)
	if err != nil {
		return fmt.Errorf("raftnode: create snapshot: %w", err)
	}
	if _, err := io.Copy(sink, src); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("raftnode: write snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("raftnode: write snapshot: %w", err)
	}
	return nil
}

// requireEmpty returns nil if dir is absent or an empty directory, and an
// error wrapping ErrDataDirNotEmpty naming a few entries otherwise.
func requireEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("raftnode: data dir: %w", err)
	case len(entries) == 0:
		return nil
	}
	var names []string
	for _, e := range entries[:min(len(entries), 3)] {
		names = append(names, e.Name())
	}
	return fmt.Errorf("%w: %s holds %s", ErrDataDirNotEmpty, dir, strings.Join(names, ", "))
}

// cleanDir removes everything in dir, which RestoreOffline found empty.
func cleanDir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}
