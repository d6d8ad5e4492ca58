package raftnode

import (
	"errors"
	"testing"

	"github.com/tokend/tokend/fsm"
)

// TestRecover_SurvivorOfALostMajorityServesAgain loses two voters of three
// for good: the survivor alone has no quorum and cannot write. Recover
// rewrites its configuration to itself; reopened, it elects itself, keeps
// every entry and accepts writes.
func TestRecover_SurvivorOfALostMajorityServesAgain(t *testing.T) {
	c := newCluster(t, 3, nil)
	for i := range 20 {
		c.propose("before-" + string(rune('a'+i)))
	}
	c.waitConverged()
	l := c.leader()
	var survivor int
	for i, n := range c.nodes {
		if n != l {
			survivor = i
		}
	}
	for i, n := range c.nodes {
		if i != survivor {
			if err := n.Shutdown(); err != nil {
				t.Fatal(err)
			}
		}
	}
	s := c.nodes[survivor]
	addr, applied := s.Addr(), s.AppliedIndex()
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	cfg := c.cfgs[survivor]
	bad := Recovery{DataDir: cfg.DataDir, NodeID: cfg.NodeID, Members: []Member{{ID: "other", RaftAddr: "127.0.0.1:1"}}}
	if err := Recover(bad); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("recover without the node itself: %v", err)
	}
	if err := Recover(Recovery{DataDir: t.TempDir(), NodeID: "x", Members: []Member{{ID: "x", RaftAddr: "127.0.0.1:1"}}}); !errors.Is(err, ErrNothingToRecover) {
		t.Fatalf("recover an empty dir: %v", err)
	}
	if err := Recover(Recovery{DataDir: cfg.DataDir, NodeID: cfg.NodeID, Members: []Member{{ID: cfg.NodeID, RaftAddr: addr}}}); err != nil {
		t.Fatalf("recover: %v", err)
	}
	cfg.RaftBind, cfg.RaftAdvertise = addr, ""
	f := fsm.New()
	n, err := Open(cfg, f)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	c.nodes[survivor] = n
	eventually(t, waitLong, n.IsLeader, "the survivor elects itself")
	if got := n.AppliedIndex(); got < applied {
		t.Fatalf("applied %d after recovery, had %d", got, applied)
	}
	servers, err := n.Servers()
	if err != nil || len(servers) != 1 || servers[0].ID != cfg.NodeID || !servers[0].Voter {
		t.Fatalf("configuration after recovery: %v %v", servers, err)
	}
	if _, _, err := n.Propose(testCtx(t), &fsm.SetNode{NodeID: "after", HTTPAddr: "http://after"}); err != nil {
		t.Fatalf("write after recovery: %v", err)
	}
	if addr, ok := f.NodeAddr("before-t"); !ok || addr != "http://before-t" {
		t.Fatalf("an entry from before the loss is gone: %q %v", addr, ok)
	}
}
