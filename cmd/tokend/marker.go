package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// markerFile is the file by which a data dir remembers that it belongs to
// a cluster. It sits beside raft.db and node-credential.
const markerFile = "tokend-member.json"

// markerVersion is the format of markerFile this build writes and reads.
const markerVersion = 1

// markerWait bounds how long a node that has just joined waits for its
// state to learn the cluster UUID before it writes the marker without one.
const markerWait = 30 * time.Second

// marker is the content of markerFile.
type marker struct {
	Version     int    `json:"version"`
	ClusterUUID string `json:"cluster_uuid"`
	NodeID      string `json:"node_id"`
}

// recoveryAdvice names the two ways back for a member whose Raft files are
// lost or damaged.
func recoveryAdvice(dataDir, nodeID string) string {
	return fmt.Sprintf("to recover, either run `tokend remove %s` on a live member, empty %s and start this node again with --join; "+
		"or, for a single-node cluster, rebuild it from a backup with `tokend snapshot restore --offline` "+
		"(see docs/operations.md, \"When a disk goes bad\")", nodeID, dataDir)
}

// readMarker returns the data dir's marker, or nil when there is none. A
// marker that does not parse is an error naming the file.
func readMarker(dataDir string) (*marker, error) {
	path := filepath.Join(dataDir, markerFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var m marker
	if err := json.Unmarshal(b, &m); err != nil || m.Version < 1 || m.NodeID == "" {
		return nil, fmt.Errorf("%s is damaged (it does not parse as a tokend membership marker)", path)
	}
	if m.Version > markerVersion {
		return nil, fmt.Errorf("%s has format version %d; this build reads up to %d", path, m.Version, markerVersion)
	}
	return &m, nil
}

// writeMarker writes the marker atomically and durably: a temporary file,
// fsync, rename, fsync of the directory.
func writeMarker(dataDir string, m marker) error {
	m.Version = markerVersion
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	path := filepath.Join(dataDir, markerFile)
	tmp, err := os.OpenFile(path+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	dir, err := os.Open(dataDir)
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// checkDataDir runs before Raft opens the data dir. A marker that does
// not parse, or a marker without raft.db, means the node's Raft files are
// damaged or lost: the node refuses to start rather than open an empty
// store and found a fresh cluster over the data it lost.
func checkDataDir(cfg Config) error {
	m, err := readMarker(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("%w; %s", err, recoveryAdvice(cfg.DataDir, cfg.NodeID))
	}
	if m == nil {
		return nil
	}
	db := filepath.Join(cfg.DataDir, "raft.db")
	if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is missing but %s says this data dir belongs to cluster %q as node %q: "+
			"the node's Raft log and vote are lost, and it will not start a new cluster over them; %s",
			db, filepath.Join(cfg.DataDir, markerFile), m.ClusterUUID, m.NodeID, recoveryAdvice(cfg.DataDir, cfg.NodeID))
	}
	return nil
}

// checkOpenedState runs after Raft opened the data dir: a marker with no
// Raft state at all (an emptied raft.db, no snapshot) is refused as well.
func (d *daemon) checkOpenedState() error {
	m, err := readMarker(d.cfg.DataDir)
	if err != nil || m == nil || d.node.HasState() {
		return err
	}
	return fmt.Errorf("%s holds no Raft state but %s says this data dir belongs to cluster %q as node %q: "+
		"the node's Raft files are lost, and it will not start a new cluster over them; %s",
		filepath.Join(d.cfg.DataDir, "raft.db"), filepath.Join(d.cfg.DataDir, markerFile), m.ClusterUUID, m.NodeID,
		recoveryAdvice(d.cfg.DataDir, d.cfg.NodeID))
}

// recordMembership writes the marker once this node is a member: with the
// cluster UUID when the state knows it, waiting for it at most wait (a
// joining node learns it when it has applied the log). A marker already
// complete is left alone.
func (d *daemon) recordMembership(ctx context.Context, wait time.Duration) error {
	m, err := readMarker(d.cfg.DataDir)
	if err != nil {
		return err
	}
	if m != nil && m.ClusterUUID != "" {
		return d.sameCluster(m)
	}
	uuid := d.awaitClusterUUID(ctx, wait)
	if uuid == "" && wait > 0 {
		d.log.Warn("the cluster UUID is not known yet; the membership marker is written without it and completed at a later start",
			"file", filepath.Join(d.cfg.DataDir, markerFile))
	}
	return writeMarker(d.cfg.DataDir, marker{ClusterUUID: uuid, NodeID: d.cfg.NodeID})
}

// sameCluster refuses a data dir whose Raft state belongs to another
// cluster than its marker says (Raft files copied in from elsewhere), as far
// as the state knows its cluster UUID yet.
func (d *daemon) sameCluster(m *marker) error {
	if uuid := d.state.ClusterUUID(); uuid != "" && uuid != m.ClusterUUID {
		return fmt.Errorf("the Raft state in %s belongs to cluster %q but %s says this data dir belongs to cluster %q: "+
			"refusing to run with another cluster's files; %s", d.cfg.DataDir, uuid, filepath.Join(d.cfg.DataDir, markerFile),
			m.ClusterUUID, recoveryAdvice(d.cfg.DataDir, d.cfg.NodeID))
	}
	return nil
}

// awaitClusterUUID polls the state for the cluster UUID until it is known,
// wait passes or ctx ends; "" when unknown.
func (d *daemon) awaitClusterUUID(ctx context.Context, wait time.Duration) string {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if uuid := d.state.ClusterUUID(); uuid != "" {
			return uuid
		}
		select {
		case <-ctx.Done():
			return ""
		case <-tick.C:
		}
	}
}
