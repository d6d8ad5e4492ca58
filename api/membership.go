package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
	"github.com/tokend/tokend/raftnode/cluster"
)

// Action names of the membership routes, named in 403 answers.
const (
	actionRemove   = "cluster:admin/tokend/remove"
	actionTransfer = "cluster:admin/tokend/transfer_leader"
	actionNodes    = "cluster:monitor/tokend/nodes"
)

// nodesProbeTimeout bounds the fan-out of GET /_tokend/cluster/nodes to the
// members' status routes: a member slower than this is shown unreachable.
const nodesProbeTimeout = time.Second

// ClusterNodes is the answer of GET /_tokend/cluster/nodes (also decoded by
// the `tokend nodes` command).
type ClusterNodes struct {
	Leader string       `json:"leader"`
	Nodes  []NodeStatus `json:"nodes"`
}

// NodeStatus is one member in ClusterNodes: the configuration as this node
// knows it, completed with what the member says of itself.
type NodeStatus struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	Voter    bool   `json:"voter"`
	Leader   bool   `json:"leader"`
	// State is leader, follower, candidate or non-voter as the member
	// reports it, or unknown when it did not answer.
	State string `json:"state"`
	// LastContactMillis is how long ago the member heard from the leader (0
	// on the leader); null when unknown.
	LastContactMillis *int64 `json:"last_contact_ms"`
	// AppliedIndex is the member's applied log index; null when unknown.
	AppliedIndex *uint64 `json:"applied_index"`
	// Role is voter, non-voter (joined, not promoted yet) or replica.
	Role string `json:"role"`
	// LagEntries is the leader's applied index minus the member's; null
	// when either is unknown.
	LagEntries *uint64 `json:"lag_entries"`
	// LeaseHeld says whether the member holds a read lease, and
	// LeaseLeftMillis how long it has left: from the leader's ledger when
	// the leader answers, else as the member reports it; null when unknown.
	LeaseHeld       *bool  `json:"lease_held"`
	LeaseLeftMillis *int64 `json:"lease_left_ms"`
	Reachable       bool   `json:"reachable"`
	// Build is the binary the member runs; absent when unknown.
	Build *BuildInfo `json:"build,omitempty"`
	// DiskError is the member's disk condition as it reports it; absent
	// while its disk accepts writes.
	DiskError string `json:"disk_error,omitempty"`
}

// nodes serves GET /_tokend/cluster/nodes: this node's configuration, with
// each member's own status fetched concurrently within nodesProbeTimeout.
// Members that do not answer are listed all the same, as unreachable.
func (s *clusterRoutes) nodes(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if _, err := s.gate.authorizeMonitoring(r, actionNodes, privMonitor); err != nil {
		return err
	}
	servers, err := s.node.Servers()
	if err != nil {
		return fromNode(err)
	}
	leaderID, _ := s.node.Leader()
	statuses := s.members.Probe(r.Context(), servers, nodesProbeTimeout)
	out := make([]NodeStatus, 0, len(servers))
	for _, srv := range servers {
		addr, _ := s.state.NodeAddr(srv.ID)
		n := NodeStatus{ID: srv.ID, RaftAddr: srv.Address, HTTPAddr: addr, Voter: srv.Voter,
			Leader: srv.Leader || (leaderID != "" && srv.ID == leaderID), State: cluster.StateUnknown}
		if st, ok := statuses[srv.ID]; ok {
			applied := st.AppliedIndex
			n.State, n.LastContactMillis, n.AppliedIndex, n.Reachable = st.State, st.LastContactMillis, &applied, true
			n.DiskError = st.DiskError
			if st.Build != (BuildInfo{}) {
				n.Build = &st.Build
			}
		}
		n.Role = s.members.RoleOf(srv.ID, srv.Voter)
		s.fillLagAndLease(&n, statuses, leaderID)
		out = append(out, n)
	}
	writeJSON(w, r, http.StatusOK, ClusterNodes{Leader: leaderID, Nodes: out})
	return nil
}

// removeNode serves DELETE /_tokend/cluster/nodes/{id} (leader), for a live
// or dead member. The HTTP address is forgotten first, so that the entry
// recording it is replicated to the member before the removal stops
// replication to it (a follower that forwarded the request waits for that
// entry), unless that follower is the node removed. The leader asked to
// remove itself hands leadership over first and lets the new leader
// complete the removal (removeSelf).
func (s *clusterRoutes) removeNode(w http.ResponseWriter, r *http.Request, p httprouter.Params) error {
	if _, err := s.gate.authorize(r, actionRemove, privSuperuser); err != nil {
		return err
	}
	id := p.ByName("id")
	servers, err := s.node.Servers()
	if err != nil {
		return fromNode(err)
	}
	member, otherVoter := false, false
	for _, srv := range servers {
		member = member || srv.ID == id
		otherVoter = otherVoter || (srv.Voter && srv.ID != id)
	}
	_, recorded := s.state.NodeAddr(id)
	switch {
	case !member && !recorded:
		return notFound(fmt.Sprintf("node [%s] is not a member of the cluster", echoed(id)))
	case member && !otherVoter:
		return illegalArgument(fmt.Sprintf("node [%s] is the cluster's only voter and cannot be removed", echoed(id)))
	case member && id == s.cfg.NodeID:
		return s.removeSelf(w, r)
	}
	if recorded {
		if _, _, err := s.commits.propose(r.Context(), w, &fsm.SetNode{NodeID: id}); err != nil {
			return err
		}
	}
	if member {
		if err := s.membership.Remove(r.Context(), id); err != nil {
			return err
		}
	}
	if r.Header.Get(headerForwarded) == id {
		// The removed node forwarded its own removal: it may never get
		// the entry the index names (replication to it has stopped), and
		// waiting for it would turn a done removal into a timeout.
		w.Header().Del(headerAppliedIndex)
	}
	s.log.Info("node removed", "id", id)
	writeJSON(w, r, http.StatusOK, acknowledged)
	return nil
}

// removeSelf completes DELETE /_tokend/cluster/nodes/{self} on the leader:
// removing the leader directly would leave the cluster leaderless with the
// change in flight, so it transfers leadership, waits for the new leader and
// forwards the request to it, answering with its response.
func (s *clusterRoutes) removeSelf(w http.ResponseWriter, r *http.Request) error {
	s.log.Info("asked to remove this node, the leader: transferring leadership first")
	if _, err := s.membership.Transfer(r.Context(), ""); err != nil {
		return err
	}
	return s.forwarder.Proxy(w, r, clientAddr(r))
}

// transferRequest is the optional body of POST
// /_tokend/cluster/transfer_leader.
type transferRequest struct {
	NodeID string `json:"node_id"`
}

// transferLeader serves POST /_tokend/cluster/transfer_leader (leader):
// hand leadership to node_id, or to the most up-to-date other voter when
// the body is empty, and answer with the new leader once it is known.
func (s *clusterRoutes) transferLeader(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if _, err := s.gate.authorize(r, actionTransfer, privSuperuser); err != nil {
		return err
	}
	var q transferRequest
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := decodeBody(r, &q); err != nil {
			return err
		}
	}
	leader, err := s.membership.Transfer(r.Context(), q.NodeID)
	switch {
	case errors.Is(err, raftnode.ErrNotFound):
		return notFound(fmt.Sprintf("node [%s] is not a member of the cluster", echoed(q.NodeID)))
	case errors.Is(err, raftnode.ErrNotVoter):
		return illegalArgument(fmt.Sprintf("node [%s] is not a voter and cannot lead", echoed(q.NodeID)))
	case err != nil:
		return err
	}
	s.log.Info("leadership transferred", "to", leader)
	writeJSON(w, r, http.StatusOK, map[string]any{"acknowledged": true, "leader": leader})
	return nil
}
