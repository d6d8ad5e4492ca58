package cluster

import (
	"context"
	"time"
)

// Promotion of non-voters.
const (
	// PromoteMaxLag is how many entries a non-voter may still have to apply
	// (behind the leader's own applied index) and be promoted: close enough
	// that, as a voter, it does not hold back commits while it catches up.
	PromoteMaxLag = 32
	// promoteProbeTimeout bounds the question to each non-voter.
	promoteProbeTimeout = time.Second
)

// PromoteCaughtUp is the leader's promoter, run on each housekeeping round:
// every non-voter of the configuration (a node that joined, see Node.Join)
// is asked for its status at its recorded HTTP address, and promoted to
// voter once its applied index is within PromoteMaxLag of the leader's. A
// non-voter that does not answer, has no HTTP address yet or lags stays a
// non-voter until a later round. A read replica (fsm.SetNode.Replica) is
// never promoted: its mark is committed before it joins the configuration,
// and before promoting anyone the leader applies everything committed
// (caughtUpWithCommit), so a new leader that has not applied the mark yet
// does not mistake a replica for a node waiting for promotion. Promoting is
// idempotent, and each round is bounded by promoteProbeTimeout per
// non-voter plus the request timeout of a catch-up and of a promotion.
func (m *Members) PromoteCaughtUp(ctx context.Context) {
	servers, err := m.node.Servers()
	if err != nil {
		return
	}
	for _, srv := range servers {
		if srv.Voter || !m.node.IsLeader() || m.state.IsReplica(srv.ID) {
			continue
		}
		addr, ok := m.state.NodeAddr(srv.ID)
		if !ok {
			m.log.Debug("non-voter has no HTTP address yet; not promoting", "id", srv.ID)
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, promoteProbeTimeout)
		st, err := m.peers.fetchStatus(pctx, srv.ID, addr)
		cancel()
		leaderApplied := m.state.AppliedIndex()
		switch {
		case err != nil || st.ID != srv.ID:
			m.log.Debug("non-voter does not answer; not promoting", "id", srv.ID, "http_addr", addr, "err", err)
			continue
		case st.AppliedIndex+PromoteMaxLag < leaderApplied:
			m.log.Debug("non-voter is catching up", "id", srv.ID, "applied", st.AppliedIndex, "leader_applied", leaderApplied)
			continue
		}
		if !m.caughtUpWithCommit(ctx) || m.state.IsReplica(srv.ID) {
			continue
		}
		m.promote(ctx, srv.ID, st.AppliedIndex, leaderApplied)
	}
}

// caughtUpWithCommit makes this leader apply every entry committed so far
// (its read index), so that its state holds each replica mark; it reports
// whether it did within the request timeout.
func (m *Members) caughtUpWithCommit(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
	defer cancel()
	index, err := m.node.ReadIndex(ctx)
	if err == nil {
		err = m.node.WaitApplied(ctx, index)
	}
	if err != nil {
		m.log.Debug("cannot catch up before promoting; retrying next round", "err", err)
		return false
	}
	return true
}

// promote makes the caught-up non-voter id a voter and logs the outcome.
func (m *Members) promote(ctx context.Context, id string, applied, leaderApplied uint64) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
	defer cancel()
	if err := m.node.Promote(ctx, id); err != nil {
		m.log.Warn("promoting a caught-up non-voter failed; retrying next round", "id", id, "err", err)
		return
	}
	m.log.Info("promoted caught-up non-voter to voter", "id", id, "applied", applied, "leader_applied", leaderApplied)
}
