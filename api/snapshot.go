package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/raftnode"
)

// snapshotPath is the resource of the whole state: GET downloads a snapshot
// of it, PUT replaces it with an uploaded one.
const snapshotPath = "/_tokend/snapshot"

// Headers of a snapshot download: the Raft position it was taken at.
const (
	headerSnapshotIndex = "X-Tokend-Snapshot-Index"
	headerSnapshotTerm  = "X-Tokend-Snapshot-Term"
)

// Action names of the snapshot routes, named in 403 answers.
const (
	actionSnapshotSave    = "cluster:admin/tokend/snapshot/save"
	actionSnapshotRestore = "cluster:admin/tokend/snapshot/restore"
)

// snapshotWork bounds the cluster work of one snapshot request (taking the
// snapshot; restoring one once received), which grows with the state, and a
// follower's wait to install a snapshot the leader restored.
const snapshotWork = 10 * time.Minute

// Snapshotter is what the snapshot routes need of the consensus layer
// besides Node. raftnode.Node implements it; with a Node that does not, the
// routes answer 501.
type Snapshotter interface {
	// SaveSnapshot takes a snapshot including every acknowledged write and
	// opens it. Leader only.
	SaveSnapshot(ctx context.Context) (*raftnode.SavedSnapshot, error)
	// RestoreSnapshot checks the snapshot read from r in full and, only if
	// it is good, makes it every node's state; raftnode.ErrBadSnapshot
	// otherwise. Leader only.
	RestoreSnapshot(ctx context.Context, r io.Reader) (raftnode.Restored, error)
}

// snapshotter returns the node as a Snapshotter.
func (s *clusterRoutes) snapshotter() (Snapshotter, error) {
	if s.snap != nil {
		return s.snap, nil
	}
	return nil, &esError{status: http.StatusNotImplemented, typ: "unsupported_operation_exception",
		reason: "this node cannot save or restore snapshots"}
}

// isSnapshotUpload reports whether r uploads a snapshot: its body is binary
// and as large as the state, so the middleware neither checks its media
// type nor applies the JSON body limit to it.
func isSnapshotUpload(r *http.Request) bool {
	return r.Method == http.MethodPut && r.URL.Path == snapshotPath
}

// saveSnapshot serves GET /_tokend/snapshot (leader): a snapshot in the
// snapshot package's format, streamed, with its length and Raft position in
// the headers. A download cut off midway ends the connection without the
// rest, so the client sees a short body, never a complete-looking one.
func (s *clusterRoutes) saveSnapshot(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	b, err := s.snapshotter()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), snapshotWork)
	snap, err := b.SaveSnapshot(ctx)
	cancel()
	if err != nil {
		return fromNode(err)
	}
	defer snap.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(snap.Size, 10))
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="tokend-%d.snapshot"`, snap.Index))
	h.Set(headerSnapshotIndex, strconv.FormatUint(snap.Index, 10))
	h.Set(headerSnapshotTerm, strconv.FormatUint(snap.Term, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, snap); err != nil {
		s.log.Warn("snapshot download cut off", "index", snap.Index, "err", err)
		panic(http.ErrAbortHandler)
	}
	s.log.Info("snapshot downloaded", "index", snap.Index, "bytes", snap.Size)
	return nil
}

// restoreSnapshot serves PUT /_tokend/snapshot (leader): the body is a
// snapshot that replaces the state of every node. It is checked in full
// before anything changes; a damaged one is refused with 400 and the state
// is untouched. Afterwards the members' HTTP addresses are put back as they
// were (they describe the running cluster, not the backed-up data), and the
// answer waits until every member serves the restored state, as after a
// revocation: a token the restore removed is then refused everywhere.
//
// The Basic-auth cache (credentials.Verifier) needs no flushing: an entry
// only ever vouches for a password against the exact bcrypt hash it was
// checked against, so after a restore it matches only where the restored
// hash does.
func (s *clusterRoutes) restoreSnapshot(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	b, err := s.snapshotter()
	if err != nil {
		return err
	}
	before := s.state.Nodes()
	ctx, cancel := context.WithTimeout(r.Context(), snapshotWork)
	defer cancel()
	res, err := b.RestoreSnapshot(ctx, r.Body)
	switch {
	case errors.Is(err, raftnode.ErrBadSnapshot):
		return badRequest("snapshot_restore_exception", "the snapshot was refused and nothing was restored: "+err.Error())
	case errors.Is(err, raftnode.ErrRestoreRunning):
		return unavailable("status_exception", "another restore is running; retry once it has finished")
	case err != nil:
		return fromNode(err)
	}
	index := res.Index
	if last, err := s.membership.RestoreAddrs(ctx, before); err != nil {
		s.log.Warn("restored snapshot, but could not restore the members' HTTP addresses", "err", err)
	} else {
		index = max(index, last)
	}
	s.revocations.Await(ctx, index)
	s.log.Info("snapshot restored", "snapshot_index", res.Header.Index, "records", res.Header.Records, "index", index)
	w.Header().Set(headerAppliedIndex, strconv.FormatUint(index, 10))
	writeJSON(w, r, http.StatusOK, map[string]any{
		"acknowledged": true,
		"index":        index,
		"snapshot": map[string]any{
			"index":   res.Header.Index,
			"records": res.Header.Records,
			"bytes":   res.Size,
		},
	})
	return nil
}
