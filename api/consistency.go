package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/tokend/tokend/fsm"
)

// checkFresh refuses to answer reads from a node's own state when it has
// no leader, has not heard from it for maxStaleness, or holds no read lease
// and cannot renew one now (SPEC §4): such a node could accept a token the
// leader has already invalidated. The leader needs a lease too: one that
// was paused or cut off may not know yet that another has replaced it. See
// readLease.
func (s *Server) checkFresh(ctx context.Context) error {
	if s.node.IsLeader() {
		return s.renewLease(ctx)
	}
	if leaderID, _ := s.node.Leader(); leaderID == "" {
		// The reachability probe behind the reason is bounded and cached.
		return s.noLeaderError(context.Background())
	}
	if last := s.node.LastContact(); last.IsZero() || time.Since(last) > maxStaleness {
		return unavailable("status_exception", "this node has lost contact with the leader")
	}
	return s.renewLease(ctx)
}

// catchUpOnce returns once the local state has applied the leader's commit
// index as of now, so that anything the cluster answered 200 for before this
// call is visible here. On the leader that is ReadIndex (a quorum confirms
// its leadership); a follower asks the leader for its read index over HTTP
// and waits to apply it. Either renews the node's read lease, counted from
// before the request was sent. An unreachable leader is an error (503),
// never a guess. Callers use catchUp, which shares one among them.
func (s *Server) catchUpOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	started := time.Now()
	if s.node.IsLeader() {
		term := s.node.Term()
		if _, err := s.node.ReadIndex(ctx); err != nil {
			return fromNode(err)
		}
		s.lease.renewedAt(started, leaderHolderLease, term)
		return nil
	}
	index, err := s.leaderReadIndex(ctx)
	if err != nil {
		return err
	}
	if err := s.node.WaitApplied(ctx, index); err != nil {
		return fromNode(err)
	}
	s.lease.renewedAt(started, holderLease, 0)
	return nil
}

// propose stamps c with the request's ID (requestIDOf: the one a forwarding
// node chose, else a fresh one) and the node's log clock (logClock) and
// proposes it within the request timeout. An indeterminate outcome is
// retried once with the same ID, which the state machine deduplicates; a
// second one is returned (503). On success the applied index is set on w,
// if given, for a forwarding follower to wait for. It returns the result
// and log index.
func (s *Server) propose(ctx context.Context, w http.ResponseWriter, c fsm.Command) (fsm.Result, uint64, error) {
	h := c.Header()
	h.ID = requestIDOf(ctx)
	h.Time = s.clock.stamp()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	res, index, err := s.proposeStamped(ctx, c)
	if err != nil {
		return fsm.Result{}, 0, err
	}
	s.meter.committed(c, res)
	if w != nil {
		w.Header().Set(headerAppliedIndex, strconv.FormatUint(index, 10))
	}
	return res, index, nil
}
