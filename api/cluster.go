package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
)

// Action names of tokend's own cluster routes, named in 403 answers.
const (
	actionJoin      = "cluster:admin/tokend/join"
	actionReadIndex = "cluster:monitor/tokend/read_index"
)

// acknowledged is the answer to a membership change.
var acknowledged = map[string]bool{"acknowledged": true}

// info serves GET and HEAD /: Elasticsearch's info document, which the
// official clients read in ping() and info().
func (s *Server) info(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if _, err := s.authenticate(r); err != nil {
		return err
	}
	uuid := s.state.ClusterUUID()
	if uuid == "" {
		uuid = "_na_"
	}
	writeJSON(w, r, http.StatusOK, map[string]any{
		"name":         s.cfg.NodeID,
		"cluster_name": s.cfg.ClusterName,
		"cluster_uuid": uuid,
		"version": map[string]any{
			"number":                              s.cfg.Version,
			"build_flavor":                        "default",
			"build_type":                          "tokend",
			"build_hash":                          orUnknown(s.cfg.Build.Hash),
			"build_date":                          orUnknown(s.cfg.Build.Date),
			"build_snapshot":                      false,
			"lucene_version":                      "8.11.1",
			"minimum_wire_compatibility_version":  "6.8.0",
			"minimum_index_compatibility_version": "6.0.0-beta1",
		},
		"tagline": "You Know, for Search",
	})
	return nil
}

// JoinRequest asks the cluster to add a node (POST /_tokend/cluster/join).
type JoinRequest struct {
	// NodeID is the joining node's Raft server ID.
	NodeID string `json:"node_id"`
	// RaftAddr is its advertised Raft address.
	RaftAddr string `json:"raft_addr"`
	// HTTPAddr is its advertised API address (host:port).
	HTTPAddr string `json:"http_addr"`
	// HasState says the node already holds Raft state: it is a member that
	// restarted and reports its (new) addresses. It must then still be a
	// member; a node the cluster removed is refused rather than let back in
	// with its old log. Without state, a node whose ID is a voter (its data
	// dir was wiped) is re-added as a non-voter, so that it cannot vote
	// before it has caught up.
	HasState bool `json:"has_state,omitempty"`
	// Replica asks for the node to be a read replica: a non-voter that is
	// never promoted (recorded in the state, see fsm.SetNode.Replica).
	Replica bool `json:"replica,omitempty"`
}

// join serves POST /_tokend/cluster/join (leader): admit the node as a
// non-voter (the promoter makes it a voter once it has caught up) or record
// its new addresses, idempotently, then record its HTTP address, and answer
// the node credential (JoinAnswer). Until the joiner has it, its Raft port
// refuses the leader's connections, and Raft retries them.
func (s *Server) join(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if err := s.checkJoin(r); err != nil {
		return err
	}
	var q JoinRequest
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
	if err := s.admit(ctx, q); err != nil {
		return err
	}
	if addr, ok := s.state.NodeAddr(q.NodeID); !ok || addr != q.HTTPAddr {
		if _, _, err := s.propose(r.Context(), w, &fsm.SetNode{NodeID: q.NodeID, HTTPAddr: q.HTTPAddr}); err != nil {
			return err
		}
	}
	s.log.Info("node joined", "id", q.NodeID, "raft_addr", q.RaftAddr, "http_addr", q.HTTPAddr, "has_state", q.HasState, "replica", q.Replica || s.state.IsReplica(q.NodeID))
	s.writeJoinAnswer(w, r)
	return nil
}

// admit applies the membership rules of JoinRequest.HasState and adds or
// re-addresses the node in the Raft configuration.
func (s *Server) admit(ctx context.Context, q JoinRequest) error {
	servers, err := s.node.Servers()
	if err != nil {
		return fromNode(err)
	}
	var member, voter bool
	for _, srv := range servers {
		if srv.ID == q.NodeID {
			member, voter = true, srv.Voter
		}
	}
	switch {
	case q.HasState && !member:
		return illegalArgument(fmt.Sprintf("node [%s] has Raft state but is not a member of the cluster: "+
			"it was removed; wipe its data dir and join again", q.NodeID))
	case !q.HasState && voter && q.NodeID == s.cfg.NodeID:
		return illegalArgument(fmt.Sprintf("node [%s] is the leader; a node with an empty data dir cannot take its ID", q.NodeID))
	case !q.HasState && voter:
		s.log.Warn("a node with an empty data dir joins under the ID of a voter; re-adding it as a non-voter", "id", q.NodeID)
		if err := s.node.Remove(ctx, q.NodeID); err != nil && !errors.Is(err, raftnode.ErrNotFound) {
			return fromNode(err)
		}
	}
	return fromNode(s.node.Join(ctx, q.NodeID, q.RaftAddr))
}

// isMember reports whether id is in this node's latest configuration.
func (s *Server) isMember(id string) bool {
	servers, err := s.node.Servers()
	if err != nil {
		return false
	}
	return slices.ContainsFunc(servers, func(srv raftnode.Server) bool { return srv.ID == id })
}

// requireMember refuses a node-to-node call from a node that is not (or no
// longer) a member of the cluster.
func (s *Server) requireMember(id string) error {
	if !s.isMember(id) {
		return illegalArgument(fmt.Sprintf("node [%s] is not a member of the cluster", echoed(id)))
	}
	return nil
}

// readIndex serves GET /_tokend/cluster/read_index (leader): the commit
// index a follower must apply before answering a read it could not answer,
// or to renew its read lease. A node that is not a member gets none; the
// lease of one that is is recorded (leaseLedger) for revocations to wait on.
func (s *Server) readIndex(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if err := s.checkReadIndex(r); err != nil {
		return err
	}
	if p := peerOf(r); p != nil && p.nodeID != "" {
		// A removed node must not renew its read lease (readLease).
		if err := s.requireMember(p.nodeID); err != nil {
			return err
		}
		// Recorded before the index is computed: a revocation committed
		// since is in it, one committed before waits for this grant.
		s.grants.Grant(p.nodeID, s.node.Stats().Term)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	index, err := s.node.ReadIndex(ctx)
	if err != nil {
		return fromNode(err)
	}
	writeJSON(w, r, http.StatusOK, map[string]uint64{"index": index})
	return nil
}

// checkReadIndex admits a read index request: a node, or a superuser (over
// a cluster certificate when the cluster has a CA). It makes the leader
// confirm its leadership with a quorum, so it is never open.
func (s *Server) checkReadIndex(r *http.Request) error {
	return s.nodeOrUser(r, actionReadIndex, privSuperuser)
}

// healthz serves GET /_tokend/healthz: the process is up. No credentials,
// nothing revealed.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// notReady is readyz's answer without a leader: the reason the "no leader"
// answer gives (removed, quorum lost, an election under way). Probes ask
// every few seconds, so it is logged at debug level only.
func notReady(noLeader error) error {
	reason := "no leader"
	var e *esError
	if errors.As(noLeader, &e) {
		reason = e.reason
	}
	return &esError{status: http.StatusServiceUnavailable, typ: "status_exception", reason: "not ready: " + reason,
		retry: true, quiet: true}
}

// errRemoved is readyz's answer on a node the cluster removed (checkRemoved).
var errRemoved = &esError{status: http.StatusServiceUnavailable, typ: "status_exception",
	reason: "not ready: " + removedReason, quiet: true}

// readyz's answers while the node knows a leader but cannot serve yet.
var (
	errNotReadyLeaderAddr = &esError{status: http.StatusServiceUnavailable, typ: "status_exception",
		reason: "not ready: the leader's HTTP address is not in this node's state yet", retry: true, quiet: true}
	errNotReadyApplying = &esError{status: http.StatusServiceUnavailable, typ: "status_exception",
		reason: "not ready: applying committed log entries", retry: true, quiet: true}
)

// readyz serves GET /_tokend/readyz: 200 when the node can serve reads and
// forward writes, that is when it knows a leader and the leader's HTTP
// address, and its state has applied all but maxApplyLag of the entries it
// knows to be committed (a restarted node first replays the log it holds);
// 503 otherwise. No credentials, nothing revealed.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if s.watch.removed.Load() {
		return errRemoved
	}
	if st := s.node.Stats(); st.DiskError != "" {
		return &esError{status: http.StatusServiceUnavailable, typ: "status_exception",
			reason: "not ready: " + diskReason(st.DiskError, st.DiskErrorSince), retry: true, quiet: true}
	}
	if id, _ := s.node.Leader(); id == "" {
		return notReady(s.noLeaderError(r.Context()))
	}
	if !s.leaderAddrKnown() {
		return errNotReadyLeaderAddr
	}
	if st := s.node.Stats(); st.CommitIndex > st.AppliedIndex+maxApplyLag {
		return errNotReadyApplying
	}
	writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
