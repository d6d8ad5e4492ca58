package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/raftnode/cluster"
)

// healthz serves GET /_tokend/healthz: the process is up. No credentials,
// nothing revealed.
func (s *clusterRoutes) healthz(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
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
	errNotReadyInitialising = &esError{status: http.StatusServiceUnavailable, typ: "status_exception",
		reason: "not ready: the cluster is being initialised (the elastic user does not exist yet)", retry: true, quiet: true}
)

// readyz serves GET /_tokend/readyz: 200 when the node can serve reads and
// forward writes, that is when it knows a leader and the leader's HTTP
// address, and its state has applied all but cluster.MaxApplyLag of the entries it
// knows to be committed (a restarted node first replays the log it holds),
// and the cluster's initialisation has created the elastic user; 503
// otherwise. No credentials, nothing revealed.
func (s *clusterRoutes) readyz(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
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
	// Bootstrap records the leader's address before it creates the elastic
	// user, and the user cannot be deleted: until it exists, a node that
	// answered ready would refuse every joiner and client that logs in
	// with it.
	if _, ok := s.state.SharedUser(reservedUsername); !ok {
		return errNotReadyInitialising
	}
	writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
