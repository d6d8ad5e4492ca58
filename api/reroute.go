package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/raftnode"
)

// leaderChangeWait bounds how long a write whose leader failed (it could
// not be reached, or answered that it no longer leads) waits for this node
// to learn of a new leader before it answers 503. It covers a few election
// timeouts; the request timeout bounds the write as a whole.
const leaderChangeWait = maxStaleness

// errLeaderMoved cancels a send to a leader that another node (or this
// one) has replaced while the send was in flight.
var errLeaderMoved = errors.New("api: the leader changed while the write was in flight")

// leaderGone wraps the error of a send that failed because of the leader:
// it could not be reached or no longer leads. The write may go to the next
// leader.
type leaderGone struct{ err error }

func (e *leaderGone) Error() string { return e.err.Error() }
func (e *leaderGone) Unwrap() error { return e.err }

// leaderWrite adapts h, a write route that proposes one command, to run on
// the leader. A forwarding node's request ID is kept (adoptRequestID); a
// follower relays the request to the leader, and to the next one if the
// leader is lost meanwhile (relay).
func (s *Server) leaderWrite(h handlerFunc) httprouter.Handle {
	return s.local(func(w http.ResponseWriter, r *http.Request, p httprouter.Params) error {
		r, err := s.adoptRequestID(r)
		if err != nil {
			return err
		}
		if s.node.IsLeader() {
			return h(w, r, p)
		}
		return s.relay(w, r, p, h)
	})
}

// relay answers r on a follower with the leader's answer, as forward does,
// but follows the leadership (followLeader): the request gets its request
// ID here, once, and is sent again with it to a new leader, or run by h
// here if this node is elected. Without a leader it answers 503 at once.
func (s *Server) relay(w http.ResponseWriter, r *http.Request, p httprouter.Params, h handlerFunc) error {
	if r.Header.Get(headerForwarded) != "" {
		return fromNode(raftnode.ErrNotLeader) // never a second hop
	}
	if id, _ := s.node.Leader(); id == "" {
		return s.noLeaderError(r.Context())
	}
	// As for any forward, the request timeout starts once the leader's
	// address is known (a restarted node may still be replaying it).
	if _, _, err := s.awaitLeaderBase(r.Context()); err != nil {
		return err
	}
	if _, ok := requestIDIn(r.Context()); !ok {
		r = r.WithContext(withRequestID(r.Context(), newRequestID()))
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	var a *leaderAnswer
	err = s.followLeader(ctx, func() error {
		r.Body = io.NopCloser(bytes.NewReader(body))
		return h(w, r, p)
	}, func(ctx context.Context, leaderID, base string) error {
		answer, err := s.ask(ctx, r, body, leaderID, base)
		if err != nil {
			return &leaderGone{err}
		}
		if err := notLeading(answer); err != nil {
			return err
		}
		a = answer
		return nil
	})
	if err != nil || a == nil {
		return err // a == nil: this node led and h answered
	}
	return s.answer(ctx, w, a)
}

// notLeading returns a leaderGone error when a is the leader's 503 saying
// that it does not lead (any more), or that it knows no leader.
func notLeading(a *leaderAnswer) error {
	if a.status != http.StatusServiceUnavailable {
		return nil
	}
	var env envelopeJSON
	if json.Unmarshal(a.body, &env) != nil {
		return nil
	}
	switch env.Error.Type {
	case "not_master_exception", "master_not_discovered_exception":
		return &leaderGone{&esError{status: a.status, typ: env.Error.Type, reason: env.Error.Reason, retry: true}}
	}
	return nil
}

// followLeader delivers a write to the leader: by local while this node
// leads, else by send to the leader it knows. When another leader is
// elected while a send is in flight (the old one was paused, cut off or
// deposed), the send is cancelled and the write goes to the new leader at
// once. When a send fails because its leader is gone (leaderGone), or
// local because this node lost leadership, the write waits up to
// leaderChangeWait for a new leader and goes to it. Every attempt carries
// the write's request IDs, so the state machine applies it once however
// often it is sent (docs/guarantees.md). ctx bounds it all.
func (s *Server) followLeader(ctx context.Context, local func() error, send func(ctx context.Context, leaderID, base string) error) error {
	for {
		change := s.node.LeaderChange()
		leaderID := s.cfg.NodeID
		var err error
		if s.node.IsLeader() {
			if err = local(); s.lostLeadership(err) {
				err = &leaderGone{err}
			}
		} else {
			var base string
			if leaderID, base, err = s.awaitLeaderBase(ctx); err != nil {
				return err
			}
			err = s.sendWhileLeading(ctx, change, leaderID, base, send)
		}
		var gone *leaderGone
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errLeaderMoved):
		case errors.As(err, &gone) && s.awaitNewLeader(ctx, change, leaderID):
		default:
			return err
		}
		now, _ := s.node.Leader()
		s.log.Info("sending a write again, to the new leader", "from", leaderID, "to", now, "err", err)
	}
}

// lostLeadership reports whether err failed a write because this node no
// longer leads.
func (s *Server) lostLeadership(err error) bool {
	return (errors.Is(err, raftnode.ErrNotLeader) || errors.Is(err, raftnode.ErrNoLeader)) && !s.node.IsLeader()
}

// sendWhileLeading runs send to leaderID at base and cancels it
// (errLeaderMoved) if this node learns of another leader meanwhile. change
// was taken before leaderID was read.
func (s *Server) sendWhileLeading(ctx context.Context, change <-chan struct{}, leaderID, base string,
	send func(ctx context.Context, leaderID, base string) error) error {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go s.cancelOnNewLeader(sctx, cancel, change, leaderID)
	err := send(sctx, leaderID, base)
	if err != nil && errors.Is(context.Cause(sctx), errLeaderMoved) {
		return errLeaderMoved
	}
	return err
}

// cancelOnNewLeader cancels ctx with errLeaderMoved once this node knows a
// leader other than leaderID; a leaderless spell (an election) alone does
// not cancel it.
func (s *Server) cancelOnNewLeader(ctx context.Context, cancel context.CancelCauseFunc, change <-chan struct{}, leaderID string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-change:
		}
		change = s.node.LeaderChange()
		if id, _ := s.node.Leader(); id != "" && id != leaderID {
			cancel(errLeaderMoved)
			return
		}
	}
}

// awaitNewLeader waits, for leaderChangeWait at most and within ctx, until
// this node knows a leader elected after change was taken: another node
// than old, or old again after a change. It reports whether it found one.
func (s *Server) awaitNewLeader(ctx context.Context, change <-chan struct{}, old string) bool {
	timer := time.NewTimer(leaderChangeWait)
	defer timer.Stop()
	changed := false
	for {
		if id, _ := s.node.Leader(); id != "" && (id != old || changed) {
			return true
		}
		select {
		case <-change:
			change, changed = s.node.LeaderChange(), true
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}
