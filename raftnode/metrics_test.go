package raftnode

import (
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetrics_NodeGaugesFollowRaftAndLibraryMetricsArrive(t *testing.T) {
	var mu sync.Mutex
	regs := map[string]*prometheus.Registry{}
	c := newCluster(t, 3, func(cfg *Config) {
		mu.Lock()
		defer mu.Unlock()
		regs[cfg.NodeID] = prometheus.NewPedanticRegistry()
		cfg.Metrics = regs[cfg.NodeID]
	})
	for i := range 5 {
		c.propose(fmt.Sprintf("k%d", i))
	}
	c.waitConverged()
	leader := c.leader()
	if err := leader.Snapshot(); err != nil {
		t.Fatal(err)
	}

	e := scrapeRegistry(t, regs[leader.ID()])
	wantMetric(t, e, 1, "tokend_node_raft_state", "state", "leader")
	wantMetric(t, e, 0, "tokend_node_raft_state", "state", "follower")
	wantMetric(t, e, 0, "tokend_node_last_contact_seconds")
	wantMetric(t, e, float64(leader.raft.CurrentTerm()), "tokend_node_term")
	if n, _ := e.Value("tokend_node_propose_seconds_count"); n < 5 {
		t.Errorf("propose latency counted %v proposals, want at least 5", n)
	}
	if v, _ := e.Value("tokend_node_snapshot_bytes"); v <= 0 {
		t.Errorf("snapshot size %v after a snapshot", v)
	}
	if v, _ := e.Value("tokend_node_leader_changes_total"); v < 1 {
		t.Errorf("leader changes %v", v)
	}
	for _, f := range c.followers() {
		e := scrapeRegistry(t, regs[f.ID()])
		wantMetric(t, e, 1, "tokend_node_raft_state", "state", "follower")
		if v, _ := e.Value("tokend_node_last_contact_seconds"); v < 0 || v > 5 || math.IsNaN(v) {
			t.Errorf("%s: last contact %v s ago", f.ID(), v)
		}
		if v, _ := e.Value("tokend_node_applied_index"); v < float64(leader.AppliedIndex()) {
			t.Errorf("%s: applied index %v, leader's %d", f.ID(), v, leader.AppliedIndex())
		}
		if v, ok := e.Value("tokend_node_apply_lag_entries"); !ok || v < 0 {
			t.Errorf("%s: apply lag %v %v", f.ID(), v, ok)
		}
	}

	// The process-wide library metrics: raft's own and raft-boltdb's, which
	// reach the same sink, served on every node's registry.
	for id, reg := range regs {
		lib := scrapeRegistry(t, reg)
		for _, name := range []string{"tokend_raft_commit_time_seconds_count", "tokend_raft_fsm_apply_batch_seconds_count",
			"tokend_raft_apply_total", "tokend_raft_boltdb_store_logs_seconds_count", "tokend_raft_state_leader_total"} {
			if v := lib.Sum(name); v <= 0 {
				t.Errorf("%s: %s = %v after writes", id, name, v)
			}
		}
	}
}
