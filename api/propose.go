package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
	"github.com/tokend/tokend/raftnode/cluster"
)

// The batch route: a follower posts the token creations it prepared to the
// leader's proposePath, which proposes them as one entry (cluster.Writes).
const (
	proposePath   = cluster.PathPropose
	actionPropose = "cluster:admin/tokend/propose"
	// msgpackType is the media type of proposePath's bodies.
	msgpackType = cluster.MsgpackType
)

// isBatchPost reports whether r posts a batch to proposePath, whose body is
// msgpack rather than JSON.
func isBatchPost(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == proposePath && r.Header.Get("Content-Type") == msgpackType
}

// proposeRoute serves POST proposePath (leader): token creations a follower
// prepared, proposed as one entry. Only members proven by the node
// credential or a cluster certificate may call it, and only token creations
// pass.
func (s *peerRoutes) proposeRoute(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if err := s.batchAuth(r); err != nil {
		return err
	}
	if !s.node.IsLeader() {
		return fromNode(raftnode.ErrNotLeader)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var q cluster.ProposeRequest
	if err := msgpack.Unmarshal(body, &q); err != nil {
		return parseError("request body is not a batch of commands")
	}
	if len(q.Entries) == 0 || len(q.Entries) > cluster.MaxBatch {
		return illegalArgument(fmt.Sprintf("a batch holds 1 to %d commands, not %d", cluster.MaxBatch, len(q.Entries)))
	}
	cmds := make([]fsm.Command, len(q.Entries))
	for i, e := range q.Entries {
		c, err := fsm.Decode(e)
		if err != nil {
			return illegalArgument(fmt.Sprintf("command %d of the batch cannot be decoded", i))
		}
		if _, ok := c.(*fsm.CreateToken); !ok {
			return illegalArgument(fmt.Sprintf("command %d of the batch is not a token creation", i))
		}
		cmds[i] = c
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	results, err := s.writes.ProposeBatch(ctx, cmds)
	if err != nil {
		return err
	}
	answer, err := msgpack.Marshal(&cluster.ProposeResponse{Results: results})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", msgpackType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(answer)
	return nil
}

// batchAuth admits a batch only from a current member that proves it is a
// node: a cluster certificate when the cluster has a CA, else a proof under
// the node credential.
func (s *peerRoutes) batchAuth(r *http.Request) error {
	if err := s.gate.requireNode(r, actionPropose); err != nil {
		return err
	}
	return s.requireMember(peerOf(r).nodeID)
}
