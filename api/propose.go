package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
)

// Token creations are prepared on the node that receives the request (it
// checks the credentials and draws the tokens) and proposed in batches: on
// the leader straight into Raft, as one entry per batch; on a follower by
// one POST of the whole batch to the leader's proposePath, which proposes
// it as one entry. Either way each token is committed on a quorum before it
// is answered.
const (
	proposePath   = "/_tokend/cluster/propose"
	actionPropose = "cluster:admin/tokend/propose"
	// msgpackType is the media type of proposePath's bodies.
	msgpackType = "application/msgpack"
)

// isBatchPost reports whether r posts a batch to proposePath, whose body is
// msgpack rather than JSON.
func isBatchPost(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == proposePath && r.Header.Get("Content-Type") == msgpackType
}

// proposeRequest is the body of POST proposePath: commands as fsm.Encode
// wrote them.
type proposeRequest struct {
	Entries [][]byte `msgpack:"e"`
}

// proposeResponse answers it: one result per command, in order.
type proposeResponse struct {
	Results []fsm.Result `msgpack:"r"`
}

// proposeToken proposes a token creation through the batcher and returns
// its result. c gets its request ID here; the leader stamps the time.
func (s *Server) proposeToken(ctx context.Context, c *fsm.CreateToken) (fsm.Result, error) {
	c.ID = newRequestID()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	res, err := s.tokens.submit(ctx, c)
	if err != nil {
		return fsm.Result{}, fromNode(err)
	}
	return res, nil
}

// sendBatch delivers one batch: proposed here on the leader, posted to the
// leader from a follower, and posted again to a new leader if that one is
// lost meanwhile (followLeader; every command keeps its request ID). Every
// call gets its result or the batch's error.
func (s *Server) sendBatch(calls []*batchCall) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	cmds := make([]fsm.Command, len(calls))
	for i, c := range calls {
		cmds[i] = c.cmd
	}
	var results []fsm.Result
	err := s.followLeader(ctx, func() (err error) {
		results, err = s.proposeBatch(ctx, cmds)
		return err
	}, func(ctx context.Context, leaderID, base string) (err error) {
		if !s.batchesForwardable() {
			return fromNode(raftnode.ErrNotLeader)
		}
		results, err = s.postBatch(ctx, leaderID, base, cmds)
		if err == nil {
			s.batching.batches.Inc()
		}
		return err
	})
	for i, c := range calls {
		if err != nil {
			c.resolve(fsm.Result{}, err)
			continue
		}
		c.resolve(results[i], nil)
	}
}

// proposeBatch stamps cmds with the node's log clock (logClock) and proposes
// them as one Raft entry (a lone command as itself). An indeterminate
// outcome is retried once: every command keeps its request ID, so none
// applies twice.
func (s *Server) proposeBatch(ctx context.Context, cmds []fsm.Command) ([]fsm.Result, error) {
	now := s.clock.stamp()
	for _, c := range cmds {
		c.Header().Time = now
	}
	if len(cmds) == 1 {
		res, _, err := s.proposeStamped(ctx, cmds[0])
		return []fsm.Result{res}, err
	}
	b, err := fsm.NewBatch(cmds)
	if err != nil {
		return nil, err
	}
	res, _, err := s.proposeStamped(ctx, b)
	if err != nil {
		return nil, err
	}
	if len(res.Results) != len(cmds) {
		return nil, fmt.Errorf("api: a batch of %d commands returned %d results", len(cmds), len(res.Results))
	}
	return res.Results, nil
}

// proposeStamped proposes c, whose request ID and time are set, retrying
// once after an indeterminate outcome; the state machine deduplicates the
// retry. It returns the result and the entry's log index.
func (s *Server) proposeStamped(ctx context.Context, c fsm.Command) (fsm.Result, uint64, error) {
	res, index, err := s.node.Propose(ctx, c)
	if errors.Is(err, raftnode.ErrIndeterminate) {
		s.log.Info("proposal outcome unknown, retrying once", "type", c.Type())
		res, index, err = s.node.Propose(ctx, c)
	}
	if err != nil {
		return fsm.Result{}, 0, fromNode(err)
	}
	return res, index, nil
}

// postBatch sends cmds to the proposePath of the leader at base and returns
// its results. A leader that cannot be reached, or answers that it does not
// lead, is a leaderGone error.
func (s *Server) postBatch(ctx context.Context, leaderID, base string, cmds []fsm.Command) ([]fsm.Result, error) {
	var err error
	q := proposeRequest{Entries: make([][]byte, len(cmds))}
	for i, c := range cmds {
		if q.Entries[i], err = fsm.Encode(c); err != nil {
			return nil, err
		}
	}
	body, err := msgpack.Marshal(&q)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+proposePath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", msgpackType)
	s.signAsNode(req, leaderID, "", body, false)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, &leaderGone{s.leaderUnreachable(leaderID, err)}
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardedResponse))
	if err != nil {
		return nil, &leaderGone{s.leaderUnreachable(leaderID, err)}
	}
	if err := notLeading(&leaderAnswer{status: resp.StatusCode, body: answer}); err != nil {
		return nil, err
	}
	if s.noteLegacyLeader(leaderID, resp.StatusCode) {
		return nil, unavailable("status_exception", fmt.Sprintf("leader [%s] takes no batches (an older build); retry", leaderID))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, s.leaderRefusedBatch(leaderID, resp.StatusCode, answer)
	}
	var out proposeResponse
	if err := msgpack.Unmarshal(answer, &out); err != nil || len(out.Results) != len(cmds) {
		return nil, s.leaderUnreachable(leaderID, fmt.Errorf("bad answer to a batch of %d: %d results, %v", len(cmds), len(out.Results), err))
	}
	return out.Results, nil
}

// leaderRefusedBatch turns the leader's error answer to a batch into this
// node's answer: the leader's own 503 (it lost leadership, or has no
// quorum) or 429 passes through; anything else is a misconfiguration
// between nodes, logged here and answered 503.
func (s *Server) leaderRefusedBatch(leaderID string, status int, body []byte) error {
	var env envelopeJSON
	_ = json.Unmarshal(body, &env)
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		typ, reason := env.Error.Type, env.Error.Reason
		if typ == "" {
			typ, reason = "status_exception", fmt.Sprintf("leader [%s] answered %d", leaderID, status)
		}
		return &esError{status: status, typ: typ, reason: reason, retry: true}
	}
	s.log.Error("the leader refused a batch of token creations", "leader", leaderID, "status", status,
		"type", env.Error.Type, "reason", env.Error.Reason)
	return unavailable("status_exception", fmt.Sprintf("leader [%s] refused this node's request", leaderID))
}

// proposeRoute serves POST proposePath (leader): token creations a follower
// prepared, proposed as one entry. Only members proven by the node
// credential or a cluster certificate may call it, and only token creations
// pass.
func (s *Server) proposeRoute(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
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
	var q proposeRequest
	if err := msgpack.Unmarshal(body, &q); err != nil {
		return parseError("request body is not a batch of commands")
	}
	if len(q.Entries) == 0 || len(q.Entries) > maxBatch {
		return illegalArgument(fmt.Sprintf("a batch holds 1 to %d commands, not %d", maxBatch, len(q.Entries)))
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
	results, err := s.proposeBatch(ctx, cmds)
	if err != nil {
		return err
	}
	answer, err := msgpack.Marshal(&proposeResponse{Results: results})
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
func (s *Server) batchAuth(r *http.Request) error {
	if err := s.requireNode(r, actionPropose); err != nil {
		return err
	}
	return s.requireMember(peerOf(r).nodeID)
}
