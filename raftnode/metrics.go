package raftnode

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// nodeMetrics are this node's own metrics (tokend_node_*), registered on
// Config.Metrics as one prometheus.Collector. Unlike the library metrics
// they belong to one Node, so several nodes in one process keep theirs
// apart. The counters and the histogram are updated as things happen; the
// gauges are read from Raft at scrape time (Collect).
type nodeMetrics struct {
	n             *Node
	leaderChanges prometheus.Counter
	authFailures  prometheus.Counter
	propose       prometheus.Histogram

	state         *prometheus.Desc // by lower-cased raft.RaftState
	term          *prometheus.Desc
	commitIndex   *prometheus.Desc
	appliedIndex  *prometheus.Desc
	applyLag      *prometheus.Desc
	lastContact   *prometheus.Desc
	snapshotBytes *prometheus.Desc
}

// newNodeMetrics returns n's metrics, not yet registered (Open registers
// them once Raft runs, since Collect reads it).
func newNodeMetrics(n *Node) *nodeMetrics {
	gauge := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &nodeMetrics{
		n: n,
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{Name: "tokend_node_leader_changes_total",
			Help: "Leader changes this node observed, changes to no leader included."}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "tokend_node_raft_auth_failures_total",
			Help: "Raft connections this node accepted and closed because they did not prove the node credential (none with mutual TLS: see the TLS handshake errors in the log)."}),
		propose: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tokend_node_propose_seconds",
			Help:    "Time from Propose on the leader to the entry being committed and applied there, successful proposals only.",
			Buckets: timeBuckets}),
		state:        gauge("tokend_node_raft_state", "1 for this node's current Raft state, 0 for the others.", "state"),
		term:         gauge("tokend_node_term", "Current Raft term."),
		commitIndex:  gauge("tokend_node_commit_index", "Raft commit index as known to this node."),
		appliedIndex: gauge("tokend_node_applied_index", "Index of the last entry this node's state machine applied."),
		applyLag: gauge("tokend_node_apply_lag_entries",
			"Committed entries Raft has not yet handed to the state machine (commit index minus Raft's applied index)."),
		lastContact: gauge("tokend_node_last_contact_seconds",
			"Seconds since this follower last heard from a leader; 0 on the leader, +Inf if it never has."),
		snapshotBytes: gauge("tokend_node_snapshot_bytes", "Size of the newest snapshot on disk (0: none)."),
	}
}

// Describe sends the descriptors of every metric Collect sends.
func (m *nodeMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.leaderChanges.Describe(ch)
	m.authFailures.Describe(ch)
	m.propose.Describe(ch)
	for _, d := range []*prometheus.Desc{m.state, m.term, m.commitIndex, m.appliedIndex, m.applyLag,
		m.lastContact, m.snapshotBytes} {
		ch <- d
	}
}

// Collect sends the counters and the histogram, and the gauges read from
// Raft's current state. Listing the snapshots reads their small metadata
// files; if that fails, the snapshot size is left out of this scrape.
func (m *nodeMetrics) Collect(ch chan<- prometheus.Metric) {
	m.leaderChanges.Collect(ch)
	m.authFailures.Collect(ch)
	m.propose.Collect(ch)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	r := m.n.raft
	state := r.State()
	for s := raft.Follower; s <= raft.Shutdown; s++ {
		gauge(m.state, boolGauge(s == state), strings.ToLower(s.String()))
	}
	commit, handed := r.CommitIndex(), r.AppliedIndex()
	gauge(m.term, float64(r.CurrentTerm()))
	gauge(m.commitIndex, float64(commit))
	gauge(m.appliedIndex, float64(m.n.fsm.AppliedIndex()))
	gauge(m.applyLag, float64(commit-min(commit, handed)))
	switch last := r.LastContact(); {
	case state == raft.Leader:
		gauge(m.lastContact, 0)
	case last.IsZero():
		gauge(m.lastContact, math.Inf(1))
	default:
		gauge(m.lastContact, time.Since(last).Seconds())
	}
	if snaps, err := m.n.st.snaps.List(); err == nil {
		var size int64
		if len(snaps) > 0 {
			size = snaps[0].Size
		}
		gauge(m.snapshotBytes, float64(size))
	}
}

// registerMetrics registers the node's metrics and the process-wide
// library metrics on Config.Metrics, if it is set.
func registerMetrics(reg prometheus.Registerer, m *nodeMetrics) error {
	if reg == nil {
		return nil
	}
	if err := reg.Register(m); err != nil {
		return fmt.Errorf("raftnode: register the node's metrics: %w", err)
	}
	if err := reg.Register(libraryMetrics()); err != nil {
		reg.Unregister(m)
		return fmt.Errorf("raftnode: register Raft's library metrics: %w", err)
	}
	return nil
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
