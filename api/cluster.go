package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/cluster"
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

// join serves POST /_tokend/cluster/join (leader): admit the node as a
// non-voter (members.Admit: the promoter makes it a voter once it has
// caught up) or record its new addresses, idempotently, then record its HTTP address, and answer
// the node credential (JoinAnswer). Until the joiner has it, its Raft port
// refuses the leader's connections, and Raft retries them.
func (s *Server) join(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if err := s.checkJoin(r); err != nil {
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
		if _, _, err := s.propose(r.Context(), w, &fsm.SetNode{NodeID: q.NodeID, HTTPAddr: q.HTTPAddr}); err != nil {
			return err
		}
	}
	s.log.Info("node joined", "id", q.NodeID, "raft_addr", q.RaftAddr, "http_addr", q.HTTPAddr, "has_state", q.HasState, "replica", q.Replica || s.state.IsReplica(q.NodeID))
	s.writeJoinAnswer(w, r)
	return nil
}

// requireMember refuses a node-to-node call from a node that is not (or no
// longer) a member of the cluster.
func (s *Server) requireMember(id string) error {
	if !s.members.IsMember(id) {
		return illegalArgument(fmt.Sprintf("node [%s] is not a member of the cluster", echoed(id)))
	}
	return nil
}

// readIndex serves GET /_tokend/cluster/read_index (leader): the commit
// index a follower must apply before answering a read it could not answer,
// or to renew its read lease (reads.ServeReadIndex). A node that is not a
// member gets none: a removed node must not renew its read lease.
func (s *Server) readIndex(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if err := s.checkReadIndex(r); err != nil {
		return err
	}
	member := ""
	if p := peerOf(r); p != nil && p.nodeID != "" {
		if err := s.requireMember(p.nodeID); err != nil {
			return err
		}
		member = p.nodeID
	}
	index, err := s.reads.ServeReadIndex(r.Context(), member)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, map[string]uint64{"index": index})
	return nil
}

// actionWaitApplied is named in 403 answers of GET
// /_tokend/cluster/wait_applied.
const actionWaitApplied = "cluster:monitor/tokend/wait_applied"

// waitApplied serves GET /_tokend/cluster/wait_applied?index=N&timeout=T:
// 200 once this node has applied index N, 503 if it has not within T (at
// most the request timeout). With fence=true it answers 200 at once, with
// "fenced": true, when index N is not applied yet, having raised its fence:
// from then on it answers no read before applying N (reads.WaitApplied). It
// holds a goroutine up to T, so only a node or a superuser may ask (over a
// cluster certificate when the cluster has a CA).
func (s *Server) waitApplied(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if err := s.nodeOrUser(r, actionWaitApplied, privSuperuser); err != nil {
		return err
	}
	index, err := strconv.ParseUint(r.URL.Query().Get("index"), 10, 64)
	if err != nil {
		return illegalArgument("index must be a log index")
	}
	timeout := s.cfg.RequestTimeout
	if v := r.URL.Query().Get("timeout"); v != "" {
		t, err := parseTimeValue(v)
		if err != nil {
			return illegalArgument("timeout must be a time value")
		}
		timeout = min(t, timeout)
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	fenced, err := s.reads.WaitApplied(ctx, index, r.URL.Query().Get("fence") == "true")
	switch {
	case err != nil:
		return err
	case fenced:
		writeJSON(w, r, http.StatusOK, map[string]any{"index": index, "fenced": true})
	default:
		writeJSON(w, r, http.StatusOK, map[string]uint64{"index": index})
	}
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
	if e := envelopeOf(noLeader); e != nil {
		reason = e.reason
	}
	return &esError{status: http.StatusServiceUnavailable, typ: "status_exception", reason: "not ready: " + reason,
		retry: true, quiet: true}
}

// errRemoved is readyz's answer on a node the cluster removed
// (members.Removed).
var errRemoved = &esError{status: http.StatusServiceUnavailable, typ: "status_exception",
	reason: "not ready: " + cluster.RemovedReason, quiet: true}

// readyz's answers while the node knows a leader but cannot serve yet.
var (
	errNotReadyLeaderAddr = &esError{status: http.StatusServiceUnavailable, typ: "status_exception",
		reason: "not ready: the leader's HTTP address is not in this node's state yet", retry: true, quiet: true}
	errNotReadyApplying = &esError{status: http.StatusServiceUnavailable, typ: "status_exception",
		reason: "not ready: applying committed log entries", retry: true, quiet: true}
)

// readyz serves GET /_tokend/readyz: 200 when the node can serve reads and
// forward writes, that is when it knows a leader and the leader's HTTP
// address, and its state has applied all but cluster.MaxApplyLag of the entries it
// knows to be committed (a restarted node first replays the log it holds);
// 503 otherwise. No credentials, nothing revealed.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if s.members.Removed() {
		return errRemoved
	}
	if st := s.node.Stats(); st.DiskError != "" {
		return &esError{status: http.StatusServiceUnavailable, typ: "status_exception",
			reason: "not ready: " + cluster.DiskReason(st.DiskError, st.DiskErrorSince), retry: true, quiet: true}
	}
	if id, _ := s.node.Leader(); id == "" {
		return notReady(s.members.NoLeader(r.Context()))
	}
	if !s.forwarder.LeaderAddrKnown() {
		return errNotReadyLeaderAddr
	}
	if st := s.node.Stats(); st.CommitIndex > st.AppliedIndex+cluster.MaxApplyLag {
		return errNotReadyApplying
	}
	writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
