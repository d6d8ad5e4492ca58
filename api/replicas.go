package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/julienschmidt/httprouter"
)

// replicaRetry is the pause between two attempts to confirm a replica.
const replicaRetry = 50 * time.Millisecond

// awaitReplicas makes a revocation (an invalidation, a disabled or deleted
// user, a changed password) hold on every node before it is answered, so
// that once it has answered 200 no node accepts what it revoked (SPEC §4)
// while token checks stay local reads. It returns once each other member of
// the configuration has applied index, or cannot be serving reads that miss
// it: its HTTP port refuses connections, or maxStaleness has passed, after
// which a node that has not heard from the leader refuses to answer from its
// state (checkFresh, readLease); and not before the read leases of members
// removed in the last maxStaleness have run out. Creations need none of
// this: a node that does not find a token or user catches up first.
func (s *Server) awaitReplicas(ctx context.Context, index uint64) {
	servers, err := s.node.Servers()
	if err != nil {
		return // shutting down: nothing more is served here
	}
	ctx, cancel := context.WithTimeout(ctx, maxStaleness)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range servers {
		if srv.ID != s.cfg.NodeID {
			wg.Go(func() { s.awaitReplica(ctx, srv.ID, index) })
		}
	}
	// A member removed moments ago may still hold a read lease.
	if end := s.lease.removedLeasesEnd(time.Now()); !end.IsZero() {
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(end)):
		}
	}
	wg.Wait()
}

// awaitReplica asks one replica to confirm index until it does, refuses
// connections or ctx ends.
func (s *Server) awaitReplica(ctx context.Context, id string, index uint64) {
	for {
		err := s.askApplied(ctx, id, index)
		if err == nil || errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		select {
		case <-ctx.Done():
			s.log.Warn("replica did not confirm a revocation; it is out of contact", "node", id, "index", index, "err", err)
			return
		case <-time.After(replicaRetry):
		}
	}
}

// askApplied calls GET /_tokend/cluster/wait_applied on replica id.
func (s *Server) askApplied(ctx context.Context, id string, index uint64) error {
	addr, ok := s.state.NodeAddr(id)
	if !ok || addr == "" {
		return fmt.Errorf("node %s has no HTTP address yet", id)
	}
	wait := time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = max(time.Until(dl), time.Millisecond)
	}
	url := fmt.Sprintf("%s://%s/_tokend/cluster/wait_applied?index=%d&timeout=%dms", s.peerScheme(), addr, index, wait.Milliseconds())
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
// most the request timeout). It holds a goroutine that long, so only a node
// or a superuser may ask (over a cluster certificate when the cluster has a
// CA).
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
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if err := s.node.WaitApplied(ctx, index); err != nil {
		return fromNode(err)
	}
	writeJSON(w, r, http.StatusOK, map[string]uint64{"index": index})
	return nil
}
