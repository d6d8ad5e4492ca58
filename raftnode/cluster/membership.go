package cluster

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
)

// leaderPollInterval is how often a change waiting for a leader looks.
const leaderPollInterval = 20 * time.Millisecond

// ErrNoNewLeader is a handover of leadership after which no new leader
// became known in time.
var ErrNoNewLeader = errors.New("leadership was handed over but no new leader is known yet")

// Refusal is why the membership rules refuse a join.
type Refusal uint8

const (
	// RefusedRemoved: the node has Raft state but is not a member; the
	// cluster removed it, and it must not come back with its old log.
	RefusedRemoved Refusal = iota
	// RefusedLeaderID: a node with an empty data dir asks for the ID of
	// the leader itself.
	RefusedLeaderID
	// RefusedVoterToReplica: a voter asks to become a read replica, which
	// would shrink the quorum behind the operator's back.
	RefusedVoterToReplica
)

// RefusedError is a join the membership rules refuse: the request, not
// the cluster, must change.
type RefusedError struct {
	NodeID string  // the joining node's ID
	Why    Refusal // the rule it breaks
}

// Error names the node and the rule.
func (e *RefusedError) Error() string {
	switch e.Why {
	case RefusedRemoved:
		return "node " + e.NodeID + " has Raft state but is not a member of the cluster: it was removed"
	case RefusedLeaderID:
		return "node " + e.NodeID + " is the leader; a node with an empty data dir cannot take its ID"
	}
	return "node " + e.NodeID + " is a voter and cannot become a replica"
}

// IsMember reports whether id is in this node's latest configuration.
func (m *Members) IsMember(id string) bool {
	servers, err := m.node.Servers()
	if err != nil {
		return false
	}
	return slices.ContainsFunc(servers, func(srv raftnode.Server) bool { return srv.ID == id })
}

// IsVoter reports whether id is a voter in this node's latest
// configuration.
func (m *Members) IsVoter(id string) bool {
	servers, err := m.node.Servers()
	if err != nil {
		return false
	}
	for _, srv := range servers {
		if srv.ID == id {
			return srv.Voter
		}
	}
	return false
}

// Admit applies the membership rules of JoinRequest.HasState and adds or
// re-addresses the node in the Raft configuration, as a non-voter
// (PromoteCaughtUp makes it a voter once it has caught up). Leader only. A
// node without state that joins under a voter's ID (its data dir was
// wiped) is re-added as a non-voter, so that it cannot vote before it has
// caught up; a node with state must still be a member (RefusedError).
func (m *Members) Admit(ctx context.Context, q JoinRequest) error {
	servers, err := m.node.Servers()
	if err != nil {
		return FromNode(err)
	}
	var member, voter bool
	for _, srv := range servers {
		if srv.ID == q.NodeID {
			member, voter = true, srv.Voter
		}
	}
	switch {
	case q.HasState && !member:
		return &RefusedError{NodeID: q.NodeID, Why: RefusedRemoved}
	case !q.HasState && voter && q.NodeID == m.cfg.NodeID:
		return &RefusedError{NodeID: q.NodeID, Why: RefusedLeaderID}
	case !q.HasState && voter:
		m.log.Warn("a node with an empty data dir joins under the ID of a voter; re-adding it as a non-voter", "id", q.NodeID)
		if err := m.node.Remove(ctx, q.NodeID); err != nil && !errors.Is(err, raftnode.ErrNotFound) {
			return FromNode(err)
		}
	}
	return FromNode(m.node.Join(ctx, q.NodeID, q.RaftAddr))
}

// MarkReplica records, for a join that asks for a read replica, the node's
// HTTP address with the replica mark before the node enters the Raft
// configuration: a leader never sees it as a non-voter without the mark,
// so no promoter (this one or a later leader's, see PromoteCaughtUp) makes
// it a voter. A voter that asks to become a replica is refused
// (RefusedError). Other joins pass. It returns the index of the entry it
// proposed, 0 if none. Leader only.
func (m *Members) MarkReplica(ctx context.Context, q JoinRequest) (uint64, error) {
	if !q.Replica || (q.HasState && !m.IsMember(q.NodeID)) {
		return 0, nil // Admit refuses a removed node with state
	}
	if q.HasState && m.IsVoter(q.NodeID) {
		return 0, &RefusedError{NodeID: q.NodeID, Why: RefusedVoterToReplica}
	}
	if addr, ok := m.state.NodeAddr(q.NodeID); ok && addr == q.HTTPAddr && m.state.IsReplica(q.NodeID) {
		return 0, nil
	}
	_, index, err := m.writes.Propose(ctx, &fsm.SetNode{NodeID: q.NodeID, HTTPAddr: q.HTTPAddr, Replica: true})
	return index, err
}

// Remove removes member id from the Raft configuration, within the request
// timeout; one that is not a member is no error. Leader only. Its lease
// grants stay recorded until they end, and revocations wait for them.
func (m *Members) Remove(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
	defer cancel()
	if err := m.node.Remove(ctx, id); err != nil && !errors.Is(err, raftnode.ErrNotFound) {
		return FromNode(err)
	}
	return nil
}

// Transfer hands leadership to voter id, or to the most up-to-date other
// voter when id is "", and returns the new leader once it is known with
// its HTTP address (ErrNoNewLeader if not within the request timeout).
// Leader only; raftnode.ErrNotFound and raftnode.ErrNotVoter name an id
// that cannot lead.
func (m *Members) Transfer(ctx context.Context, id string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
	defer cancel()
	if err := m.node.TransferLeadershipTo(ctx, id); err != nil {
		return "", FromNode(err)
	}
	if id == m.cfg.NodeID {
		return id, nil
	}
	tick := time.NewTicker(leaderPollInterval)
	defer tick.Stop()
	for {
		if leader, _ := m.node.Leader(); leader != "" && leader != m.cfg.NodeID {
			if _, ok := m.state.NodeAddr(leader); ok {
				return leader, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", ErrNoNewLeader
		case <-tick.C:
		}
	}
}

// AwaitLeadership polls until this node is the leader or ctx ends.
func (m *Members) AwaitLeadership(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !m.node.IsLeader() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// RestoreAddrs makes the recorded HTTP addresses those of the running
// cluster again after a snapshot restore: before's address for each current
// member (the restored one where before has none), none for anyone else.
// It returns the index of the last change, or 0 if none was needed.
// Leader only.
func (m *Members) RestoreAddrs(ctx context.Context, before map[string]string) (uint64, error) {
	servers, err := m.node.Servers()
	if err != nil {
		return 0, err
	}
	after := m.state.Nodes()
	want := map[string]string{}
	for _, srv := range servers {
		if addr := before[srv.ID]; addr != "" {
			want[srv.ID] = addr
		} else if addr := after[srv.ID]; addr != "" {
			want[srv.ID] = addr
		}
	}
	var last uint64
	ids := map[string]bool{}
	for id := range after {
		ids[id] = true
	}
	for id := range want {
		ids[id] = true
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		if after[id] == want[id] {
			continue
		}
		_, index, err := m.writes.Propose(ctx, &fsm.SetNode{NodeID: id, HTTPAddr: want[id]})
		if err != nil {
			return last, err
		}
		last = index
	}
	return last, nil
}
