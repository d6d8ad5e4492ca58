package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
)

// Writes is the way of this node's writes into the log. Every command is
// stamped with a request ID and the command clock (Clock) and proposed on
// the leader, retried once after an indeterminate outcome (the state
// machine applies a request ID once).
//
// Token creations are prepared on the node that receives the request (it
// checks the credentials and draws the tokens) and proposed in batches: on
// the leader straight into Raft, as one entry per batch; on a follower by
// one POST of the whole batch to the leader's PathPropose, which proposes
// it as one entry (ProposeBatch). Either way each token is committed on a
// quorum before it is answered. A follower sends its grants whole to the
// leader instead when it cannot prove it is a node, or while the leader is
// of an older build without PathPropose (BatchesForwardable); each such
// fallback is logged once.
type Writes struct {
	cfg     Config
	node    Node
	log     *slog.Logger
	leaders *leaders
	clock   *Clock
	tokens  batcher // token creations on their way into the log

	// legacyLeader is the ID of a leader that answered a batch 404 (an
	// older build): grants go to it whole until another leader is elected.
	legacyLeader atomic.Pointer[string]
	warnLegacy   sync.Once
	warnNoProof  sync.Once
}

func newWrites(cfg Config, node Node, ld *leaders, clock *Clock) *Writes {
	w := &Writes{cfg: cfg, node: node, log: cfg.Logger, leaders: ld, clock: clock}
	w.tokens.send = w.sendBatch
	return w
}

// Propose stamps c with the request ID ctx carries (a fresh one if none,
// see WithRequestID) and the command clock, and proposes it within the
// request timeout. An indeterminate outcome is retried once with the same
// ID, which the state machine deduplicates; a second one is returned. Leader
// only. It returns the result and log index.
func (w *Writes) Propose(ctx context.Context, c fsm.Command) (fsm.Result, uint64, error) {
	h := c.Header()
	h.ID = requestIDOf(ctx)
	h.Time = w.clock.Stamp()
	ctx, cancel := context.WithTimeout(ctx, w.cfg.RequestTimeout)
	defer cancel()
	return w.proposeStamped(ctx, c)
}

// ProposeToken proposes a token creation through the batcher and returns
// its result. c gets its request ID here; the leader stamps the time.
func (w *Writes) ProposeToken(ctx context.Context, c *fsm.CreateToken) (fsm.Result, error) {
	c.ID = NewRequestID()
	ctx, cancel := context.WithTimeout(ctx, w.cfg.RequestTimeout)
	defer cancel()
	res, err := w.tokens.submit(ctx, c)
	if err != nil {
		return fsm.Result{}, FromNode(err)
	}
	return res, nil
}

// ProposeBatch stamps cmds with the command clock and proposes them as one
// Raft entry (a lone command as itself): the leader's side of a follower's
// batch. An indeterminate outcome is retried once: every command keeps its
// request ID, so none applies twice.
func (w *Writes) ProposeBatch(ctx context.Context, cmds []fsm.Command) ([]fsm.Result, error) {
	now := w.clock.Stamp()
	for _, c := range cmds {
		c.Header().Time = now
	}
	if len(cmds) == 1 {
		res, _, err := w.proposeStamped(ctx, cmds[0])
		return []fsm.Result{res}, err
	}
	b, err := fsm.NewBatch(cmds)
	if err != nil {
		return nil, err
	}
	res, _, err := w.proposeStamped(ctx, b)
	if err != nil {
		return nil, err
	}
	if len(res.Results) != len(cmds) {
		return nil, fmt.Errorf("cluster: a batch of %d commands returned %d results", len(cmds), len(res.Results))
	}
	return res.Results, nil
}

// BatchesForwardable reports whether this node can send batches to the
// leader: the leader accepts them only from a node that proves it is one,
// with the node credential or a cluster certificate, and only if its build
// has PathPropose.
func (w *Writes) BatchesForwardable() bool {
	if !w.leaders.peers.canProveNode() {
		w.warnNoProof.Do(func() {
			w.log.Warn("this node cannot prove it is a node (no node credential, no cluster certificate): " +
				"grants received here are forwarded to the leader one by one, unbatched")
		})
		return false
	}
	legacy := w.legacyLeader.Load()
	if legacy == nil {
		return true
	}
	leader, _ := w.node.Leader()
	return leader != *legacy
}

// proposeStamped proposes c, whose request ID and time are set, retrying
// once after an indeterminate outcome; the state machine deduplicates the
// retry. It returns the result and the entry's log index.
func (w *Writes) proposeStamped(ctx context.Context, c fsm.Command) (fsm.Result, uint64, error) {
	res, index, err := w.node.Propose(ctx, c)
	if errors.Is(err, raftnode.ErrIndeterminate) {
		w.log.Info("proposal outcome unknown, retrying once", "type", c.Type())
		res, index, err = w.node.Propose(ctx, c)
	}
	if err != nil {
		return fsm.Result{}, 0, FromNode(err)
	}
	return res, index, nil
}

// sendBatch delivers one batch: proposed here on the leader, posted to the
// leader from a follower, and posted again to a new leader if that one is
// lost meanwhile (leaders.follow; every command keeps its request ID).
// Every call gets its result or the batch's error.
func (w *Writes) sendBatch(calls []*batchCall) {
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.RequestTimeout)
	defer cancel()
	cmds := make([]fsm.Command, len(calls))
	for i, c := range calls {
		cmds[i] = c.cmd
	}
	var results []fsm.Result
	err := w.leaders.follow(ctx, func() (err error) {
		results, err = w.ProposeBatch(ctx, cmds)
		return err
	}, func(ctx context.Context, leaderID, base string) (err error) {
		if !w.BatchesForwardable() {
			return FromNode(raftnode.ErrNotLeader)
		}
		results, err = w.postBatch(ctx, leaderID, base, cmds)
		if err == nil {
			w.cfg.Metrics.BatchesForwarded.Inc()
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

// postBatch sends cmds to the PathPropose of the leader at base and returns
// its results. A leader that cannot be reached, or answers that it does not
// lead, is a leaderGone error.
func (w *Writes) postBatch(ctx context.Context, leaderID, base string, cmds []fsm.Command) ([]fsm.Result, error) {
	var err error
	q := ProposeRequest{Entries: make([][]byte, len(cmds))}
	for i, c := range cmds {
		if q.Entries[i], err = fsm.Encode(c); err != nil {
			return nil, err
		}
	}
	body, err := msgpack.Marshal(&q)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+PathPropose, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", MsgpackType)
	w.leaders.peers.sign(req, leaderID, "", body, false)
	resp, err := w.leaders.peers.client.Do(req)
	if err != nil {
		return nil, &leaderGone{w.leaders.unreachable(leaderID, err)}
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardedResponse))
	if err != nil {
		return nil, &leaderGone{w.leaders.unreachable(leaderID, err)}
	}
	if err := notLeading(&leaderAnswer{leaderID: leaderID, status: resp.StatusCode, body: answer}); err != nil {
		return nil, err
	}
	if w.noteLegacyLeader(leaderID, resp.StatusCode) {
		return nil, &LegacyLeaderError{Leader: leaderID}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, w.refusedBatch(leaderID, resp.StatusCode, answer)
	}
	var out ProposeResponse
	if err := msgpack.Unmarshal(answer, &out); err != nil || len(out.Results) != len(cmds) {
		return nil, w.leaders.unreachable(leaderID, fmt.Errorf("bad answer to a batch of %d: %d results, %v", len(cmds), len(out.Results), err))
	}
	return out.Results, nil
}

// refusedBatch turns the leader's error answer to a batch into a
// LeaderRefusedError. Its own 503 (it lost leadership, or has no quorum)
// and 429 are conditions to retry; anything else is a misconfiguration
// between nodes, logged here.
func (w *Writes) refusedBatch(leaderID string, status int, body []byte) error {
	var env envelope
	_ = json.Unmarshal(body, &env)
	if status != http.StatusServiceUnavailable && status != http.StatusTooManyRequests {
		w.log.Error("the leader refused a batch of token creations", "leader", leaderID, "status", status,
			"type", env.Error.Type, "reason", env.Error.Reason)
	}
	return &LeaderRefusedError{Leader: leaderID, Status: status, Type: env.Error.Type, Reason: env.Error.Reason}
}

// noteLegacyLeader records that leaderID answered a batch with status: a
// 404 or 405 means a build without PathPropose, whose grants then go to it
// whole. It reports whether it was such an answer.
func (w *Writes) noteLegacyLeader(leaderID string, status int) bool {
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		return false
	}
	w.legacyLeader.Store(&leaderID)
	w.warnLegacy.Do(func() {
		w.log.Warn("the leader has no batch route (an older build, during a rolling upgrade): "+
			"grants are forwarded to it one by one until a leader of this build is elected", "leader", leaderID)
	})
	return true
}
