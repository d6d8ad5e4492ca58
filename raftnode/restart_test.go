package raftnode

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tokend/tokend/fsm"
)

func TestShutdown_LeaderHandsOverAndWritesContinue(t *testing.T) {
	c := newCluster(t, 3, nil)
	old := c.leader()
	if err := old.Shutdown(); err != nil {
		t.Fatalf("leader shutdown: %v", err)
	}
	if err := old.Shutdown(); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	if l := c.leader(); l == old {
		t.Fatal("a shut-down node is still leader")
	}
	c.propose("after-leader-shutdown")
	if _, _, err := old.Propose(testCtx(t), &fsm.SetNode{NodeID: "x"}); !errors.Is(err, ErrShutdown) {
		t.Fatalf("propose after shutdown: %v, want ErrShutdown", err)
	}
}

func TestRestart_RejoinsWithoutBootstrapAndCatchesUp(t *testing.T) {
	c := newCluster(t, 3, nil)
	i := c.indexOf(c.followers()[0])
	id := c.nodes[i].ID()
	if err := c.nodes[i].Shutdown(); err != nil {
		t.Fatal(err)
	}
	var last uint64
	for k := range 10 {
		last = c.propose(fmt.Sprintf("while-down-%d", k))
	}
	n := c.restart(i, false)
	if !n.HasState() {
		t.Fatalf("%s reopened without state", id)
	}
	eventually(t, waitLong, func() bool { return n.AppliedIndex() >= last }, "%s catches up to %d", id, last)
	c.sameState(n)
}

func TestRestart_CatchesUpFromLeaderSnapshot(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotThreshold = 8
		cfg.TrailingLogs = 2
	})
	i := c.indexOf(c.followers()[0])
	if err := c.nodes[i].Shutdown(); err != nil {
		t.Fatal(err)
	}
	var last uint64
	for k := range 30 {
		last = c.propose(fmt.Sprintf("compacted-%d", k))
	}
	if err := c.leader().Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	n := c.restart(i, false)
	eventually(t, waitLong, func() bool { return n.AppliedIndex() >= last }, "catch up to %d", last)
	snaps, err := n.st.snaps.List()
	if err != nil || len(snaps) == 0 {
		t.Fatalf("restarted follower has no installed snapshot: %v %v", snaps, err)
	}
	if addr, ok := n.fsm.NodeAddr("compacted-0"); !ok || addr != "http://compacted-0" {
		t.Fatalf("state from the snapshot missing: %q %v", addr, ok)
	}
	c.sameState(n)
}

func TestRestart_SingleNodeRestoresOwnSnapshot(t *testing.T) {
	c := newCluster(t, 1, func(cfg *Config) { cfg.TrailingLogs = 1 })
	var last uint64
	for k := range 5 {
		last = c.propose(fmt.Sprintf("k%d", k))
	}
	if err := c.nodes[0].Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	n := c.restart(0, false)
	if !n.HasState() {
		t.Fatal("no state after restart")
	}
	if got := n.AppliedIndex(); got < last {
		t.Fatalf("applied %d after restart, want >= %d", got, last)
	}
	if _, ok := n.fsm.NodeAddr("k4"); !ok {
		t.Fatal("state lost across restart")
	}
	eventually(t, waitLong, n.IsLeader, "single node leads again without bootstrap")
	c.propose("after-restart")
}

func TestBootstrap_RefusedOnExistingState(t *testing.T) {
	c := newCluster(t, 1, nil)
	if err := c.nodes[0].Bootstrap(); !errors.Is(err, ErrHasState) {
		t.Fatalf("second bootstrap: %v, want ErrHasState", err)
	}
	n := c.restart(0, false)
	if !n.HasState() {
		t.Fatal("HasState false after restart")
	}
	if err := n.Bootstrap(); !errors.Is(err, ErrHasState) {
		t.Fatalf("bootstrap after restart: %v, want ErrHasState", err)
	}
}
