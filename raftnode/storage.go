package raftnode

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// storage is what a node's Raft runs on: raft.db (the log and Raft's stable
// state), the snapshot store and the transport. Open builds it before Raft
// starts; Shutdown closes what Raft does not.
type storage struct {
	store *raftboltdb.BoltStore
	disk  *diskStore // store, watching its writes (Node.DiskError)
	logs  raft.LogStore
	snaps raft.SnapshotStore
	trans *raft.NetworkTransport
}

// openStorage opens the stores in cfg.DataDir and the transport on
// cfg.RaftBind; onAuthFail is told of every connection refused for lack of
// the node credential. On failure nothing stays open.
func openStorage(cfg Config, log *slog.Logger, hlog hclog.Logger, onAuthFail func(net.Conn, error)) (*storage, error) {
	st := &storage{}
	if err := st.openStores(cfg.DataDir, log); err != nil {
		return nil, errors.Join(err, st.close())
	}
	if err := st.openSnapshots(cfg.DataDir, hlog); err != nil {
		return nil, errors.Join(err, st.close())
	}
	if err := st.openTransport(cfg, hlog, onAuthFail); err != nil {
		return nil, errors.Join(err, st.close())
	}
	return st, nil
}

// openStores opens raft.db, the bolt store that holds both the log and
// Raft's stable state, behind a small read cache.
func (st *storage) openStores(dataDir string, log *slog.Logger) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("raftnode: data dir: %w", err)
	}
	path := filepath.Join(dataDir, "raft.db")
	store, err := openBoltChecked(path)
	if err != nil {
		return err
	}
	st.store = store
	st.disk = &diskStore{BoltStore: store, path: path, log: log}
	st.logs, err = raft.NewLogCache(logCacheSize, st.disk)
	if err != nil {
		return fmt.Errorf("raftnode: log cache: %w", err)
	}
	return nil
}

// openSnapshots opens dataDir/snapshots, keeping the newest two.
func (st *storage) openSnapshots(dataDir string, hlog hclog.Logger) error {
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dataDir, snapshotsRetained, hlog)
	if err != nil {
		return fmt.Errorf("raftnode: snapshot store: %w", err)
	}
	st.snaps = snaps
	return checkSnapshots(snaps, st.logs, filepath.Join(dataDir, "snapshots"))
}

// openTransport listens on RaftBind and advertises RaftAdvertise as written
// (see tcpStream), or the bound address when RaftAdvertise is empty
// (Validate made sure it is a specific one then). Connections are mutual
// TLS, or authenticated with the node credential.
func (st *storage) openTransport(cfg Config, hlog hclog.Logger, onAuthFail func(net.Conn, error)) error {
	stream, err := listenStream(cfg.RaftBind, cfg.RaftAdvertise, cfg.TLS, cfg.Credential)
	if err != nil {
		return fmt.Errorf("raftnode: raft transport on %s: %w", cfg.RaftBind, err)
	}
	stream.onAuthFail = onAuthFail
	st.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		Logger:  hlog,
		MaxPool: transportMaxPool,
		Timeout: transportTimeout,
	})
	return nil
}

// close closes what Raft does not: the transport (Raft closes it too;
// closing twice is harmless) and raft.db.
func (st *storage) close() error {
	var errs []error
	if st.trans != nil {
		errs = append(errs, st.trans.Close())
	}
	if st.store != nil {
		if err := st.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("raftnode: close raft.db: %w", err))
		}
	}
	return errors.Join(errs...)
}
