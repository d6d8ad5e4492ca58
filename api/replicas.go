package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/raftnode/lease"
)

// replicaRetry is the pause between two attempts to confirm a replica.
const replicaRetry = 50 * time.Millisecond

// awaitReplicas makes a revocation (an invalidation, a disabled or deleted
// user, a changed password, a refresh replay) hold on every node before it
// is answered, so that once it has answered 200 no node accepts what it
// revoked (SPEC §4) while token checks stay local reads. Call it once the
// entry at index is committed and applied here, for a new revocation and a
// repeated one alike. It waits for the members that may hold a read lease
// missing index (leaseLedger.Holders: grants recorded up to now, and every
// member while a new leader's take-over time lasts), each until it confirms
// (awaitReplica) or its lease has run out. A member that holds no such
// lease costs nothing; creations need none of this: a node that does not
// find a token or user catches up first.
func (s *Server) awaitReplicas(ctx context.Context, index uint64) {
	at := s.grants.Now()
	servers, err := s.node.Servers()
	if err != nil {
		return // shutting down: nothing more is served here
	}
	term := s.node.Term()
	s.grants.Lead(term, s.lease.previousLeader(term))
	members := make([]string, 0, len(servers))
	for _, srv := range servers {
		members = append(members, srv.ID)
	}
	var wg sync.WaitGroup
	for _, h := range s.grants.Holders(at, s.cfg.NodeID, members) {
		wg.Go(func() { s.awaitReplica(ctx, h, index) })
	}
	wg.Wait()
}

// awaitRevoked holds the answer about a revocation this leader's state
// already shows (a repeated invalidation) as the first answer was held: it
// waits for the replicas as for the applied index, which covers the entry
// that made the revocation, and reports that index on w, so that a
// forwarding follower applies it too before it answers.
func (s *Server) awaitRevoked(ctx context.Context, w http.ResponseWriter) {
	index := s.state.AppliedIndex()
	w.Header().Set(headerAppliedIndex, strconv.FormatUint(index, 10))
	s.awaitReplicas(ctx, index)
}

// awaitReplica asks holder h, until its lease runs out, to confirm index:
// to have applied it, or to have raised its fence to it (readLease.fence),
// after which it answers no read before applying it. Nothing else ends the
// wait early: a refused connection or an error says nothing about what the
// member may still answer from its state.
func (s *Server) awaitReplica(ctx context.Context, h lease.Hold, index uint64) {
	ctx, cancel := context.WithTimeout(ctx, h.Left)
	defer cancel()
	for {
		err := s.askApplied(ctx, h.Member, index)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			s.log.Warn("replica did not confirm a revocation before its read lease ran out", "node", h.Member, "index", index, "err", err)
			return
		case <-time.After(replicaRetry):
		}
	}
}

// askApplied calls GET /_tokend/cluster/wait_applied on replica id with
// fence=true: it answers 200 once it has applied index or raised its fence
// to it.
func (s *Server) askApplied(ctx context.Context, id string, index uint64) error {
	addr, ok := s.state.NodeAddr(id)
	if !ok || addr == "" {
		return fmt.Errorf("node %s has no HTTP address yet", id)
	}
	wait := time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = max(time.Until(dl), time.Millisecond)
	}
	url := fmt.Sprintf("%s://%s/_tokend/cluster/wait_applied?index=%d&timeout=%dms&fence=true", s.peerScheme(), addr, index, wait.Milliseconds())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	s.signAsNode(req, id, "", nil, false)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("wait_applied answered %d", resp.StatusCode)
	}
	return nil
}

// actionWaitApplied is named in 403 answers of GET
// /_tokend/cluster/wait_applied.
const actionWaitApplied = "cluster:monitor/tokend/wait_applied"

// waitApplied serves GET /_tokend/cluster/wait_applied?index=N&timeout=T:
// 200 once this node has applied index N, 503 if it has not within T (at
// most the request timeout). With fence=true it answers 200 at once, with
// "fenced": true, when index N is not applied yet, having raised its fence:
// from then on it answers no read before applying N (readLease). It holds a
// goroutine up to T, so only a node or a superuser may ask (over a cluster
// certificate when the cluster has a CA).
func (s *Server) waitApplied(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if err := s.nodeOrUser(r, actionWaitApplied, privSuperuser); err != nil {
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
	if r.URL.Query().Get("fence") == "true" && s.state.AppliedIndex() < index {
		s.lease.raiseFence(index)
		writeJSON(w, r, http.StatusOK, map[string]any{"index": index, "fenced": true})
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if err := s.node.WaitApplied(ctx, index); err != nil {
		return fromNode(err)
	}
	writeJSON(w, r, http.StatusOK, map[string]uint64{"index": index})
	return nil
}
