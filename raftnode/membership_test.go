package raftnode

import (
	"errors"
	"testing"

	"github.com/tokend/tokend/fsm"
)

// members returns id -> address from n's configuration.
func members(t *testing.T, n *Node) map[string]string {
	t.Helper()
	servers, err := n.Servers()
	if err != nil {
		t.Fatalf("servers: %v", err)
	}
	out := map[string]string{}
	for _, s := range servers {
		if !s.Voter {
			t.Fatalf("%s is not a voter", s.ID)
		}
		out[s.ID] = s.Address
	}
	return out
}

func TestJoin_SameIDAndAddressTwiceIsANoop(t *testing.T) {
	c := newCluster(t, 2, nil)
	l, f := c.leader(), c.followers()[0]
	before := l.Stats().LastLogIndex
	for range 2 {
		if err := l.Join(testCtx(t), f.ID(), f.Addr()); err != nil {
			t.Fatalf("rejoin: %v", err)
		}
	}
	if after := l.Stats().LastLogIndex; after != before {
		t.Fatalf("log grew from %d to %d on an idempotent join", before, after)
	}
	if m := members(t, l); len(m) != 2 || m[f.ID()] != f.Addr() {
		t.Fatalf("members = %v", m)
	}
}

func TestJoin_NewAddressReplacesStaleEntry(t *testing.T) {
	c := newCluster(t, 3, nil)
	i := c.indexOf(c.followers()[0])
	n := c.restart(i, true) // same ID and data, new port
	c.join(n)
	m := members(t, c.leader())
	if len(m) != 3 || m[n.ID()] != n.Addr() {
		t.Fatalf("members = %v, want %s at %s", m, n.ID(), n.Addr())
	}
	index := c.propose("after-readdress")
	eventually(t, waitLong, func() bool { return n.AppliedIndex() >= index }, "re-addressed node catches up")
}

func TestJoin_NewIDAtAnOldAddressReplacesDeadServer(t *testing.T) {
	c := newCluster(t, 3, nil)
	dead := c.followers()[0]
	addr := dead.Addr()
	if err := dead.Shutdown(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig("replacement", t.TempDir(), addr)
	n, err := Open(cfg, fsm.New())
	if err != nil {
		t.Fatalf("open replacement: %v", err)
	}
	c.nodes, c.cfgs = append(c.nodes, n), append(c.cfgs, cfg)
	c.join(n)
	m := members(t, c.leader())
	if _, ok := m[dead.ID()]; ok || m["replacement"] != addr || len(m) != 3 {
		t.Fatalf("members = %v, want %s replaced by replacement at %s", m, dead.ID(), addr)
	}
	c.waitConverged()
}

func TestRemove_LiveFollowerLeavesConfigurationAndLosesLeader(t *testing.T) {
	c := newCluster(t, 3, nil)
	f := c.followers()[0]
	if err := c.leader().Remove(testCtx(t), f.ID()); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if _, ok := members(t, c.leader())[f.ID()]; ok {
		t.Fatalf("%s still a member", f.ID())
	}
	// The leader stops replicating to it, so it stops knowing a leader (and
	// its LastContact ages, which bounds any read it would still serve).
	eventually(t, waitLong, func() bool { id, _ := f.Leader(); return id == "" }, "removed node loses its leader")
	if err := c.leader().Remove(testCtx(t), f.ID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second remove: %v, want ErrNotFound", err)
	}
	c.propose("after-remove")
}

func TestRemove_DeadNode(t *testing.T) {
	c := newCluster(t, 3, nil)
	f := c.followers()[0]
	if err := f.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := c.leader().Remove(testCtx(t), f.ID()); err != nil {
		t.Fatalf("remove dead node: %v", err)
	}
	if m := members(t, c.leader()); len(m) != 2 {
		t.Fatalf("members = %v", m)
	}
	c.propose("after-remove-dead")
}

func TestRemove_LeaderItselfTransfersFirst(t *testing.T) {
	c := newCluster(t, 3, nil)
	old := c.leader()
	err := old.Remove(testCtx(t), old.ID())
	if !errors.Is(err, ErrNotLeader) {
		t.Fatalf("remove self on leader: %v, want ErrNotLeader", err)
	}
	eventually(t, waitLong, func() bool { return c.leader() != old }, "leadership moves")
	if err := c.leader().Remove(testCtx(t), old.ID()); err != nil {
		t.Fatalf("remove old leader on the new leader: %v", err)
	}
	if m := members(t, c.leader()); len(m) != 2 {
		t.Fatalf("members = %v", m)
	}
}

func TestMembership_FollowerRefusesChanges(t *testing.T) {
	c := newCluster(t, 2, nil)
	f := c.followers()[0]
	if err := f.Join(testCtx(t), "x", "127.0.0.1:1"); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("join on follower: %v", err)
	}
	if err := f.Remove(testCtx(t), c.leader().ID()); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("remove on follower: %v", err)
	}
}

func (c *testCluster) indexOf(n *Node) int {
	for i, m := range c.nodes {
		if m == n {
			return i
		}
	}
	c.t.Fatalf("node %s not in cluster", n.ID())
	return -1
}

func TestMembership_RefusesChangesThatWouldDropTheOnlyLeader(t *testing.T) {
	c := newCluster(t, 1, nil)
	l := c.nodes[0]
	err := l.Remove(testCtx(t), l.ID())
	if err == nil || errors.Is(err, ErrNotLeader) {
		t.Fatalf("removing the only voter: %v, want a transfer error", err)
	}
	if err := l.Join(testCtx(t), "other", l.Addr()); err == nil {
		t.Fatal("join at the leader's own address succeeded")
	}
	if !l.IsLeader() || len(members(t, l)) != 1 {
		t.Fatal("leader lost or configuration changed")
	}
}
