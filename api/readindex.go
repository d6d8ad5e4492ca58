package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/julienschmidt/httprouter"
)

// actionReadIndex is named in 403 answers of GET
// /_tokend/cluster/read_index.
const actionReadIndex = "cluster:monitor/tokend/read_index"

// readIndex serves GET /_tokend/cluster/read_index (leader): the commit
// index a follower must apply before answering a read it could not answer,
// or to renew its read lease (reads.ServeReadIndex). A node that is not a
// member gets none: a removed node must not renew its read lease.
func (s *peerRoutes) readIndex(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if err := s.checkReadIndex(r); err != nil {
		return err
	}
	member := ""
	if p := peerOf(r); p != nil && p.nodeID != "" {
		if err := s.requireMember(p.nodeID); err != nil {
			return err
		}
		member = p.nodeID
	}
	index, err := s.reads.ServeReadIndex(r.Context(), member)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, map[string]uint64{"index": index})
	return nil
}

// actionWaitApplied is named in 403 answers of GET
// /_tokend/cluster/wait_applied.
const actionWaitApplied = "cluster:monitor/tokend/wait_applied"

// waitApplied serves GET /_tokend/cluster/wait_applied?index=N&timeout=T:
// 200 once this node has applied index N, 503 if it has not within T (at
// most the request timeout). With fence=true it answers 200 at once, with
// "fenced": true, when index N is not applied yet, having raised its fence:
// from then on it answers no read before applying N (reads.WaitApplied). It
// holds a goroutine up to T, so only a node or a superuser may ask (over a
// cluster certificate when the cluster has a CA).
func (s *peerRoutes) waitApplied(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if err := s.gate.nodeOrUser(r, actionWaitApplied, privSuperuser); err != nil {
		return err
	}
	index, err := strconv.ParseUint(r.URL.Query().Get("index"), 10, 64)
	if err != nil {
		return illegalArgument("index must be a log index")
	}
	timeout := s.cfg.RequestTimeout
	if v := r.URL.Query().Get("timeout"); v != "" {
		t, err := parseTimeValue(v)
		if err != nil {
			return illegalArgument("timeout must be a time value")
		}
		timeout = min(t, timeout)
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	fenced, err := s.reads.WaitApplied(ctx, index, r.URL.Query().Get("fence") == "true")
	switch {
	case err != nil:
		return err
	case fenced:
		writeJSON(w, r, http.StatusOK, map[string]any{"index": index, "fenced": true})
	default:
		writeJSON(w, r, http.StatusOK, map[string]uint64{"index": index})
	}
	return nil
}

// checkReadIndex admits a read index request: a node, or a superuser (over
// a cluster certificate when the cluster has a CA). It makes the leader
// confirm its leadership with a quorum, so it is never open.
func (s *peerRoutes) checkReadIndex(r *http.Request) error {
	return s.gate.nodeOrUser(r, actionReadIndex, privSuperuser)
}
