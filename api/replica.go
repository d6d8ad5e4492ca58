package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/tokend/tokend/fsm"
)

// Roles reported by the status and nodes routes.
const (
	roleVoter    = "voter"
	roleNonVoter = "non-voter" // joined, not promoted yet
	roleReplica  = "replica"   // a read replica: never promoted
)

// markReplica records, for a join that asks for a read replica, the node's
// HTTP address with the replica mark before the node enters the Raft
// configuration: a leader never sees it as a non-voter without the mark,
// so no promoter (this one or a later leader's, see promoteCaughtUp) makes
// it a voter. A voter that asks to become a replica is refused: that would
// shrink the quorum behind the operator's back. Other joins pass.
func (s *Server) markReplica(ctx context.Context, w http.ResponseWriter, q JoinRequest) error {
	if !q.Replica || (q.HasState && !s.isMember(q.NodeID)) {
		return nil // admit refuses a removed node with state
	}
	if q.HasState && s.isVoter(q.NodeID) {
		return illegalArgument(fmt.Sprintf("node [%s] is a voter and cannot become a replica: "+
			"remove it, wipe its data dir and join it again with --replica", echoed(q.NodeID)))
	}
	if addr, ok := s.state.NodeAddr(q.NodeID); ok && addr == q.HTTPAddr && s.state.IsReplica(q.NodeID) {
		return nil
	}
	_, _, err := s.propose(ctx, w, &fsm.SetNode{NodeID: q.NodeID, HTTPAddr: q.HTTPAddr, Replica: true})
	return err
}

// isVoter reports whether id is a voter in this node's latest configuration.
func (s *Server) isVoter(id string) bool {
	servers, err := s.node.Servers()
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

// roleOf names the role of member id: voter, replica or non-voter.
func (s *Server) roleOf(id string, voter bool) string {
	switch {
	case voter:
		return roleVoter
	case s.state.IsReplica(id):
		return roleReplica
	default:
		return roleNonVoter
	}
}

// fillLagAndLease completes n with its lag behind the leader's applied
// index and its read lease: the leader answers from its ledger of grants
// (the lease revocations wait for), any other node with what the member
// reported of itself.
func (s *Server) fillLagAndLease(n *NodeStatus, statuses map[string]statusJSON, leaderID string) {
	if ld, ok := statuses[leaderID]; ok && n.AppliedIndex != nil {
		lag := ld.AppliedIndex - min(*n.AppliedIndex, ld.AppliedIndex)
		n.LagEntries = &lag
	}
	if s.node.IsLeader() && n.ID != s.cfg.NodeID {
		left, held := s.grants.Held(n.ID)
		ms := left.Milliseconds()
		n.LeaseHeld, n.LeaseLeftMillis = &held, &ms
		return
	}
	if st, ok := statuses[n.ID]; ok {
		held, ms := st.LeaseHeld, st.LeaseLeftMillis
		n.LeaseHeld, n.LeaseLeftMillis = &held, &ms
	}
}
