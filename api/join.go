package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/cluster"
)

// actionJoin is named in 403 answers of POST /_tokend/cluster/join.
const actionJoin = "cluster:admin/tokend/join"

// join serves POST /_tokend/cluster/join (leader): admit the node as a
// non-voter (members.Admit: the promoter makes it a voter once it has
// caught up) or record its new addresses, idempotently, then record its HTTP address, and answer
// the node credential (JoinAnswer). Until the joiner has it, its Raft port
// refuses the leader's connections, and Raft retries them.
func (s *peerRoutes) join(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if err := s.gate.checkJoin(r); err != nil {
		return err
	}
	var q cluster.JoinRequest
	if err := decodeBody(r, &q); err != nil {
		return err
	}
	var msgs []string
	for _, f := range []struct{ name, value string }{{"node_id", q.NodeID}, {"raft_addr", q.RaftAddr}, {"http_addr", q.HTTPAddr}} {
		if f.value == "" {
			msgs = append(msgs, f.name+" is missing")
		}
	}
	if len(msgs) > 0 {
		return validationFailed(msgs...)
	}
	if err := s.markReplica(r.Context(), w, q); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	if err := s.spendEnrollment(ctx, w, r); err != nil {
		return err
	}
	if err := s.membership.Admit(ctx, q); err != nil {
		return err
	}
	if addr, ok := s.state.NodeAddr(q.NodeID); !ok || addr != q.HTTPAddr {
		if _, _, err := s.commits.propose(r.Context(), w, &fsm.SetNode{NodeID: q.NodeID, HTTPAddr: q.HTTPAddr}); err != nil {
			return err
		}
	}
	s.log.Info("node joined", "id", q.NodeID, "raft_addr", q.RaftAddr, "http_addr", q.HTTPAddr, "has_state", q.HasState, "replica", q.Replica || s.state.IsReplica(q.NodeID))
	s.writeJoinAnswer(w, r)
	return nil
}

// requireMember refuses a node-to-node call from a node that is not (or no
// longer) a member of the cluster.
func (s *peerRoutes) requireMember(id string) error {
	if !s.members.IsMember(id) {
		return illegalArgument(fmt.Sprintf("node [%s] is not a member of the cluster", echoed(id)))
	}
	return nil
}
