package raftnode

import (
	"math"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tokend/tokend/api/metrics"
)

// nodeMetrics are this node's own metrics (tokend_node_*), registered on
// Config.Metrics. Unlike LibraryMetrics they belong to one Node, so several
// nodes in one process keep theirs apart. The gauges are read from Raft at
// scrape time (collectMetrics); the counter and the histogram are updated
// as things happen.
type nodeMetrics struct {
	state         [raft.Shutdown + 1]*metrics.Gauge // by raft.RaftState
	term          *metrics.Gauge
	commitIndex   *metrics.Gauge
	appliedIndex  *metrics.Gauge
	applyLag      *metrics.Gauge
	lastContact   *metrics.Gauge
	snapshotBytes *metrics.Gauge
	leaderChanges *metrics.Counter
	authFailures  *metrics.Counter
	propose       *metrics.Histogram
}

// newNodeMetrics registers the node's metrics on reg; a nil reg gets a
// private registry, so that recording never needs a nil check.
func newNodeMetrics(reg *metrics.Registry) *nodeMetrics {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	m := &nodeMetrics{
		term:         reg.NewGauge("tokend_node_term", "Current Raft term."),
		commitIndex:  reg.NewGauge("tokend_node_commit_index", "Raft commit index as known to this node."),
		appliedIndex: reg.NewGauge("tokend_node_applied_index", "Index of the last entry this node's state machine applied."),
		applyLag: reg.NewGauge("tokend_node_apply_lag_entries",
			"Committed entries Raft has not yet handed to the state machine (commit index minus Raft's applied index)."),
		lastContact: reg.NewGauge("tokend_node_last_contact_seconds",
			"Seconds since this follower last heard from a leader; 0 on the leader, +Inf if it never has."),
		snapshotBytes: reg.NewGauge("tokend_node_snapshot_bytes", "Size of the newest snapshot on disk (0: none)."),
		leaderChanges: reg.NewCounter("tokend_node_leader_changes_total",
			"Leader changes this node observed, changes to no leader included."),
		authFailures: reg.NewCounter("tokend_node_raft_auth_failures_total",
			"Raft connections this node accepted and closed because they did not prove the node credential (none with mutual TLS: see the TLS handshake errors in the log)."),
		propose: reg.NewHistogram("tokend_node_propose_seconds",
			"Time from Propose on the leader to the entry being committed and applied there, successful proposals only.",
			timeBuckets),
	}
	states := reg.NewGaugeVec("tokend_node_raft_state", "1 for this node's current Raft state, 0 for the others.", "state")
	for s := range m.state {
		m.state[s] = states.With(strings.ToLower(raft.RaftState(s).String()))
	}
	return m
}

// collectMetrics sets the gauges from Raft's current state. It runs at
// scrape time; listing the snapshots reads their small metadata files.
func (n *Node) collectMetrics() {
	state := n.raft.State()
	for s, g := range n.m.state {
		g.Set(boolGauge(raft.RaftState(s) == state))
	}
	commit, handed := n.raft.CommitIndex(), n.raft.AppliedIndex()
	n.m.term.Set(float64(n.raft.CurrentTerm()))
	n.m.commitIndex.Set(float64(commit))
	n.m.appliedIndex.Set(float64(n.fsm.AppliedIndex()))
	n.m.applyLag.Set(float64(commit - min(commit, handed)))
	switch last := n.raft.LastContact(); {
	case state == raft.Leader:
		n.m.lastContact.Set(0)
	case last.IsZero():
		n.m.lastContact.Set(math.Inf(1))
	default:
		n.m.lastContact.Set(time.Since(last).Seconds())
	}
	if snaps, err := n.snaps.List(); err == nil {
		var size int64
		if len(snaps) > 0 {
			size = snaps[0].Size
		}
		n.m.snapshotBytes.Set(float64(size))
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
