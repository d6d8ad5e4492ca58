package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/raftnode"
)

// actionStatus is named in 403 answers of GET /_tokend/cluster/status.
const actionStatus = "cluster:monitor/tokend/status"

// Member states reported by the status and nodes routes.
const (
	stateLeader    = "leader"
	stateFollower  = "follower"
	stateCandidate = "candidate"
	stateNonVoter  = "non-voter"
	stateShutdown  = "shutdown"
	stateUnknown   = "unknown" // the member did not answer
)

// statusJSON is one node's own account of itself (GET
// /_tokend/cluster/status): what the leader's promoter, `tokend nodes`, the
// quorum probe and a possibly removed node ask other members.
type statusJSON struct {
	ID           string `json:"id"`
	ClusterUUID  string `json:"cluster_uuid"`
	State        string `json:"state"`
	LeaderID     string `json:"leader_id"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	// LastContactMillis is how long ago this node last heard from the
	// leader: 0 on the leader, null if it never has since it started.
	LastContactMillis *int64 `json:"last_contact_ms"`
	// Role is voter, non-voter (joined, not promoted yet) or replica.
	Role string `json:"role"`
	// LagEntries is how many entries this node knows to be committed and
	// has not applied yet.
	LagEntries uint64 `json:"lag_entries"`
	// LeaseHeld says this node holds a read lease (it may answer token
	// checks from its own state); LeaseLeftMillis is how long it lasts.
	LeaseHeld       bool  `json:"lease_held"`
	LeaseLeftMillis int64 `json:"lease_left_ms"`
	// Members are the server IDs of this node's latest configuration.
	Members []string `json:"members"`
	// Removed: this node has learnt that the cluster no longer counts it
	// as a member (see checkRemoved).
	Removed bool `json:"removed"`
	// Build is the binary this node runs.
	Build BuildInfo `json:"build,omitzero"`
	// ClockMillis is this node's wall clock when it answered (Unix ms):
	// other nodes sample it to stamp the cluster's time (clockOffsets).
	ClockMillis int64 `json:"clock_ms"`
	// ClockOffsetMillis is how far this node's clock is ahead of the other
	// voters' median (behind if negative), as last sampled.
	ClockOffsetMillis int64 `json:"clock_offset_ms"`
	// DiskError is this node's disk condition, "" while raft.db accepts
	// writes.
	DiskError string `json:"disk_error,omitempty"`
}

// localStatus describes this node from its own Raft state.
func (s *Server) localStatus() statusJSON {
	st := s.node.Stats()
	servers, _ := s.node.Servers()
	out := statusJSON{ID: s.cfg.NodeID, ClusterUUID: s.state.ClusterUUID(), LeaderID: st.LeaderID, Term: st.Term,
		CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex, Members: []string{}, Removed: s.watch.removed.Load(),
		Build: s.cfg.Build, DiskError: diskReason(st.DiskError, st.DiskErrorSince)}
	now := s.cfg.Clock()
	out.ClockMillis, out.ClockOffsetMillis = now.UnixMilli(), now.Sub(s.offsets.clusterTime(now)).Milliseconds()
	nonVoter, voter := false, false
	for _, srv := range servers {
		out.Members = append(out.Members, srv.ID)
		nonVoter = nonVoter || (srv.ID == s.cfg.NodeID && !srv.Voter)
		voter = voter || (srv.ID == s.cfg.NodeID && srv.Voter)
	}
	out.Role = s.roleOf(s.cfg.NodeID, voter)
	if !voter && s.cfg.Replica {
		out.Role = roleReplica
	}
	out.LagEntries = st.CommitIndex - min(st.AppliedIndex, st.CommitIndex)
	if left := s.lease.left(time.Now()); left > 0 {
		out.LeaseHeld, out.LeaseLeftMillis = true, left.Milliseconds()
	}
	switch st.State {
	case "Leader":
		out.State = stateLeader
		out.LastContactMillis = new(int64)
	case "Candidate":
		out.State = stateCandidate
	case "Shutdown":
		out.State = stateShutdown
	default:
		out.State = stateFollower
		if nonVoter {
			out.State = stateNonVoter
		}
	}
	if !st.LastContact.IsZero() && out.LastContactMillis == nil {
		ms := time.Since(st.LastContact).Milliseconds()
		out.LastContactMillis = &ms
	}
	return out
}

// status serves GET /_tokend/cluster/status: this node's own view, answered
// even without a leader, to a node (see peerOf) or a user with monitor.
func (s *Server) status(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if peerOf(r) == nil {
		if _, err := s.authorizeMonitoring(r, actionStatus, privMonitor); err != nil {
			return err
		}
	}
	writeJSON(w, r, http.StatusOK, s.localStatus())
	return nil
}

// fetchStatus asks the node at httpAddr (host:port, or a base URL) for its
// status, as a node; id is the node expected there, "" if unknown. The
// request carries a proof, never the credential: an address a bogus join
// recorded learns nothing it can use.
func (s *Server) fetchStatus(ctx context.Context, id, httpAddr string) (statusJSON, error) {
	var st statusJSON
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.baseURL(httpAddr)+statusPath, nil)
	if err != nil {
		return st, err
	}
	s.signAsNode(req, id, "", nil, false)
	resp, err := s.client.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status of %s answered %d", httpAddr, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return st, fmt.Errorf("status of %s: %w", httpAddr, err)
	}
	return st, nil
}

// probeMembers asks every server in servers for its status, concurrently and
// within timeout, and returns the answers by server ID; this node answers
// from memory. A member that does not answer in time, has no recorded HTTP
// address, or answers under another ID is missing from the result.
func (s *Server) probeMembers(ctx context.Context, servers []raftnode.Server, timeout time.Duration) map[string]statusJSON {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var mu sync.Mutex
	out := make(map[string]statusJSON, len(servers))
	var wg sync.WaitGroup
	for _, srv := range servers {
		if srv.ID == s.cfg.NodeID {
			st := s.localStatus()
			mu.Lock()
			out[srv.ID] = st
			mu.Unlock()
			continue
		}
		addr, ok := s.state.NodeAddr(srv.ID)
		if !ok || addr == "" {
			continue
		}
		wg.Go(func() {
			st, err := s.fetchStatus(ctx, srv.ID, addr)
			if err != nil || st.ID != srv.ID {
				return
			}
			mu.Lock()
			out[srv.ID] = st
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// baseURL turns host:port into a base URL with the peer scheme (see
// peerScheme); a URL stays as it is.
func (s *Server) baseURL(addr string) string {
	if strings.Contains(addr, "://") {
		return strings.TrimRight(addr, "/")
	}
	return s.peerScheme() + "://" + addr
}
