package cluster

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
)

// leaderAddrWait bounds how long a request waits for this node's state to
// learn the leader's HTTP address. A node that has just restarted knows the
// leader from Raft before its state has replayed the log it already holds,
// and would otherwise refuse writes for that moment.
const leaderAddrWait = 2 * time.Second

// leaderChangeWait bounds how long a write whose leader failed (it could
// not be reached, or answered that it no longer leads) waits for this node
// to learn of a new leader before it fails. It covers a few election
// timeouts; the request timeout bounds the write as a whole.
const leaderChangeWait = maxStaleness

// errLeaderMoved cancels a send to a leader that another node (or this
// one) has replaced while the send was in flight.
var errLeaderMoved = errors.New("cluster: the leader changed while the write was in flight")

// leaderGone wraps the error of a send that failed because of the leader:
// it could not be reached or no longer leads. The write may go to the next
// leader.
type leaderGone struct{ err error }

func (e *leaderGone) Error() string { return e.err.Error() }
func (e *leaderGone) Unwrap() error { return e.err }

// leaders finds the leader's API and follows the leadership as it moves:
// what every call of this node to the leader shares.
type leaders struct {
	cfg   Config
	node  Node
	state *fsm.FSM
	log   *slog.Logger
	peers *peers
}

// base returns the leader's ID and API base URL.
func (l *leaders) base() (id, base string, err error) {
	id, _ = l.node.Leader()
	switch {
	case id == "":
		return "", "", FromNode(raftnode.ErrNoLeader)
	case id == l.cfg.NodeID:
		return "", "", FromNode(raftnode.ErrNotLeader) // leadership is changing hands
	}
	addr, ok := l.state.NodeAddr(id)
	if !ok || addr == "" {
		return "", "", &LeaderAddrUnknownError{Leader: id}
	}
	return id, l.peers.scheme + "://" + addr, nil
}

// awaitBase is base, except that while the leader's HTTP address is missing
// from the state it waits (for leaderAddrWait at most) for the state to
// apply more of the log.
func (l *leaders) awaitBase(ctx context.Context) (id, base string, err error) {
	if id, base, err = l.base(); err == nil || l.addrKnown() {
		return id, base, err
	}
	ctx, cancel := context.WithTimeout(ctx, leaderAddrWait)
	defer cancel()
	for !l.addrKnown() && l.node.WaitApplied(ctx, l.state.AppliedIndex()+1) == nil {
	}
	return l.base()
}

// addrKnown reports whether another node leads and the state holds its
// HTTP address, or there is no such address to wait for: no leader is known
// or this node leads.
func (l *leaders) addrKnown() bool {
	id, _ := l.node.Leader()
	if id == "" || id == l.cfg.NodeID {
		return true
	}
	addr, ok := l.state.NodeAddr(id)
	return ok && addr != ""
}

// unreachable logs and returns the error of a failed call to the leader.
func (l *leaders) unreachable(leaderID string, err error) error {
	l.log.Warn("leader unreachable", "leader", leaderID, "err", err)
	return &LeaderUnreachableError{Leader: leaderID, Err: err}
}

// follow delivers a write to the leader: by local while this node leads,
// else by send to the leader it knows. When another leader is elected while
// a send is in flight (the old one was paused, cut off or deposed), the
// send is cancelled and the write goes to the new leader at once. When a
// send fails because its leader is gone (leaderGone), or local because this
// node lost leadership, the write waits up to leaderChangeWait for a new
// leader and goes to it. Every attempt carries the write's request IDs, so
// the state machine applies it once however often it is sent
// (docs/guarantees.md). ctx bounds it all.
func (l *leaders) follow(ctx context.Context, local func() error, send func(ctx context.Context, leaderID, base string) error) error {
	for {
		change := l.node.LeaderChange()
		leaderID := l.cfg.NodeID
		var err error
		if l.node.IsLeader() {
			if err = local(); l.lostLeadership(err) {
				err = &leaderGone{err}
			}
		} else {
			var base string
			if leaderID, base, err = l.awaitBase(ctx); err != nil {
				return err
			}
			err = l.sendWhileLeading(ctx, change, leaderID, base, send)
		}
		var gone *leaderGone
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errLeaderMoved):
		case errors.As(err, &gone) && l.awaitNewLeader(ctx, change, leaderID):
		default:
			return err
		}
		now, _ := l.node.Leader()
		l.log.Info("sending a write again, to the new leader", "from", leaderID, "to", now, "err", err)
	}
}

// lostLeadership reports whether err failed a write because this node no
// longer leads.
func (l *leaders) lostLeadership(err error) bool {
	return (errors.Is(err, raftnode.ErrNotLeader) || errors.Is(err, raftnode.ErrNoLeader)) && !l.node.IsLeader()
}

// sendWhileLeading runs send to leaderID at base and cancels it
// (errLeaderMoved) if this node learns of another leader meanwhile. change
// was taken before leaderID was read.
func (l *leaders) sendWhileLeading(ctx context.Context, change <-chan struct{}, leaderID, base string,
	send func(ctx context.Context, leaderID, base string) error) error {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go l.cancelOnNewLeader(sctx, cancel, change, leaderID)
	err := send(sctx, leaderID, base)
	if err != nil && errors.Is(context.Cause(sctx), errLeaderMoved) {
		return errLeaderMoved
	}
	return err
}

// cancelOnNewLeader cancels ctx with errLeaderMoved once this node knows a
// leader other than leaderID; a leaderless spell (an election) alone does
// not cancel it.
func (l *leaders) cancelOnNewLeader(ctx context.Context, cancel context.CancelCauseFunc, change <-chan struct{}, leaderID string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-change:
		}
		change = l.node.LeaderChange()
		if id, _ := l.node.Leader(); id != "" && id != leaderID {
			cancel(errLeaderMoved)
			return
		}
	}
}

// awaitNewLeader waits, for leaderChangeWait at most and within ctx, until
// this node knows a leader elected after change was taken: another node
// than old, or old again after a change. It reports whether it found one.
func (l *leaders) awaitNewLeader(ctx context.Context, change <-chan struct{}, old string) bool {
	timer := time.NewTimer(leaderChangeWait)
	defer timer.Stop()
	changed := false
	for {
		if id, _ := l.node.Leader(); id != "" && (id != old || changed) {
			return true
		}
		select {
		case <-change:
			change, changed = l.node.LeaderChange(), true
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}
