package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokend/tokend/raftnode"
)

// Member states reported by a node's status.
const (
	StateLeader    = "leader"
	StateFollower  = "follower"
	StateCandidate = "candidate"
	StateNonVoter  = "non-voter"
	StateShutdown  = "shutdown"
	StateUnknown   = "unknown" // the member did not answer
)

// Status is one node's own account of itself (GET PathStatus): what the
// leader's promoter, `tokend nodes`, the quorum probe, the clock sampling
// and a possibly removed node ask other members.
type Status struct {
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
	// as a member (see Members.CheckRemoved).
	Removed bool `json:"removed"`
	// Build is the binary this node runs.
	Build BuildInfo `json:"build,omitzero"`
	// ClockMillis is this node's wall clock when it answered (Unix ms):
	// other nodes sample it to stamp the cluster's time (Clock).
	ClockMillis int64 `json:"clock_ms"`
	// ClockOffsetMillis is how far this node's clock is ahead of the other
	// voters' median (behind if negative), as last sampled.
	ClockOffsetMillis int64 `json:"clock_offset_ms"`
	// DiskError is this node's disk condition, "" while raft.db accepts
	// writes.
	DiskError string `json:"disk_error,omitempty"`
}

// LocalStatus describes this node from its own Raft state.
func (m *Members) LocalStatus() Status {
	st := m.node.Stats()
	servers, _ := m.node.Servers()
	out := Status{ID: m.cfg.NodeID, ClusterUUID: m.state.ClusterUUID(), LeaderID: st.LeaderID, Term: st.Term,
		CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex, Members: []string{}, Removed: m.watch.removed.Load(),
		Build: m.cfg.Build, DiskError: DiskReason(st.DiskError, st.DiskErrorSince)}
	now := m.cfg.Clock()
	out.ClockMillis, out.ClockOffsetMillis = now.UnixMilli(), m.clock.offset(now).Milliseconds()
	nonVoter, voter := false, false
	for _, srv := range servers {
		out.Members = append(out.Members, srv.ID)
		nonVoter = nonVoter || (srv.ID == m.cfg.NodeID && !srv.Voter)
		voter = voter || (srv.ID == m.cfg.NodeID && srv.Voter)
	}
	out.Role = m.RoleOf(m.cfg.NodeID, voter)
	if !voter && m.cfg.Replica {
		out.Role = RoleReplica
	}
	out.LagEntries = st.CommitIndex - min(st.AppliedIndex, st.CommitIndex)
	if left := m.reads.lease.left(time.Now()); left > 0 {
		out.LeaseHeld, out.LeaseLeftMillis = true, left.Milliseconds()
	}
	switch st.State {
	case "Leader":
		out.State = StateLeader
		out.LastContactMillis = new(int64)
	case "Candidate":
		out.State = StateCandidate
	case "Shutdown":
		out.State = StateShutdown
	default:
		out.State = StateFollower
		if nonVoter {
			out.State = StateNonVoter
		}
	}
	if !st.LastContact.IsZero() && out.LastContactMillis == nil {
		ms := time.Since(st.LastContact).Milliseconds()
		out.LastContactMillis = &ms
	}
	return out
}

// FetchStatus asks the node at httpAddr (host:port, or a base URL) for its
// status, as a node; id is the node expected there, "" if unknown. The
// request carries a proof, never the credential: an address a bogus join
// recorded learns nothing it can use.
func (m *Members) FetchStatus(ctx context.Context, id, httpAddr string) (Status, error) {
	return m.peers.fetchStatus(ctx, id, httpAddr)
}

// Probe asks every server in servers for its status, concurrently and
// within timeout, and returns the answers by server ID; this node answers
// from memory. A member that does not answer in time, has no recorded HTTP
// address, or answers under another ID is missing from the result.
func (m *Members) Probe(ctx context.Context, servers []raftnode.Server, timeout time.Duration) map[string]Status {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var mu sync.Mutex
	out := make(map[string]Status, len(servers))
	var wg sync.WaitGroup
	for _, srv := range servers {
		if srv.ID == m.cfg.NodeID {
			st := m.LocalStatus()
			mu.Lock()
			out[srv.ID] = st
			mu.Unlock()
			continue
		}
		addr, ok := m.state.NodeAddr(srv.ID)
		if !ok || addr == "" {
			continue
		}
		wg.Go(func() {
			st, err := m.peers.fetchStatus(ctx, srv.ID, addr)
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

// healthProbeTimeout bounds the wait for each member's confirmation in Up.
const healthProbeTimeout = 500 * time.Millisecond

// UpCount is what Up found: members and voters up, and voters in all.
type UpCount struct {
	Members   int // members up, this node included
	Voters    int // voters up
	AllVoters int // voters in the configuration
}

// Up counts the members of servers that are up: this node, and every other
// member that confirms within healthProbeTimeout (through its wait_applied
// route) that it has applied index, less MaxApplyLag.
func (m *Members) Up(ctx context.Context, servers []raftnode.Server, index uint64) UpCount {
	ctx, cancel := context.WithTimeout(ctx, healthProbeTimeout)
	defer cancel()
	target := index - min(index, MaxApplyLag)
	var members, voters atomic.Int32
	all := 0
	var wg sync.WaitGroup
	for _, srv := range servers {
		up := func() {
			members.Add(1)
			if srv.Voter {
				voters.Add(1)
			}
		}
		if srv.Voter {
			all++
		}
		if srv.ID == m.cfg.NodeID {
			up()
			continue
		}
		wg.Go(func() {
			if m.peers.askApplied(ctx, srv.ID, target) == nil {
				up()
			}
		})
	}
	wg.Wait()
	return UpCount{Members: int(members.Load()), Voters: int(voters.Load()), AllVoters: all}
}

// DiskReason describes a node's disk condition (raftnode.Stats.DiskError)
// for an operator, or "" when raft.db accepts writes.
func DiskReason(diskErr string, since time.Time) string {
	if diskErr == "" {
		return ""
	}
	return "this node's disk refuses writes since " + since.UTC().Format(time.RFC3339) + ": " + diskErr +
		"; free space or fix the device, and writes resume without a restart"
}
