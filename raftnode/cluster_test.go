package raftnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/peerauth"
)

// Test timing: short enough for the package to finish quickly, long enough
// not to flap under -race on a loaded two-core machine.
const (
	testHeartbeat = 300 * time.Millisecond
	testLease     = 200 * time.Millisecond
	waitLong      = 15 * time.Second
)

// eventually polls cond every 20ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %s", timeout, fmt.Sprintf(format, args...))
		}
		<-tick.C
	}
}

// testLogger discards Raft's chatter unless TOKEND_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("TOKEND_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func testConfig(id, dir, bind string) Config {
	return Config{
		NodeID:             id,
		RaftBind:           bind,
		DataDir:            dir,
		Logger:             testLogger(),
		ApplyTimeout:       5 * time.Second,
		HeartbeatTimeout:   testHeartbeat,
		ElectionTimeout:    testHeartbeat,
		LeaderLeaseTimeout: testLease,
		Credential:         testCredential,
	}
}

// testCredential is the node credential the test clusters share.
var testCredential = peerauth.NewCredential([]byte("raftnode-test-credential"))

// testCluster is a set of real nodes on 127.0.0.1 talking real TCP.
type testCluster struct {
	t      testing.TB
	nodes  []*Node
	cfgs   []Config
	tweak  func(*Config)
	nextID atomic.Int32
}

// newCluster starts size nodes, bootstraps the first, joins the rest and
// waits until every node knows the leader. tweak may adjust each Config.
func newCluster(t *testing.T, size int, tweak func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, tweak: tweak}
	t.Cleanup(c.shutdownAll)
	for range size {
		c.add()
	}
	if err := c.nodes[0].Bootstrap(); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	eventually(t, waitLong, c.nodes[0].IsLeader, "node 0 becomes leader")
	for _, n := range c.nodes[1:] {
		c.join(n)
	}
	c.waitConverged()
	return c
}

// add opens one more node (not yet a member) and returns its index.
func (c *testCluster) add() int {
	c.t.Helper()
	id := fmt.Sprintf("node%d", c.nextID.Add(1)-1)
	cfg := testConfig(id, c.t.TempDir(), "127.0.0.1:0")
	if c.tweak != nil {
		c.tweak(&cfg)
	}
	n, err := Open(cfg, fsm.New())
	if err != nil {
		c.t.Fatalf("open %s: %v", id, err)
	}
	c.nodes = append(c.nodes, n)
	c.cfgs = append(c.cfgs, cfg)
	return len(c.nodes) - 1
}

// join adds n through whichever node is the leader (as a non-voter) and
// promotes it to voter.
func (c *testCluster) join(n *Node) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	eventually(c.t, waitLong, func() bool {
		l := c.leader()
		return l.Join(ctx, n.ID(), n.Addr()) == nil && l.Promote(ctx, n.ID()) == nil
	}, "join %s", n.ID())
}

// leader waits until exactly one live node believes it leads and returns it.
func (c *testCluster) leader() *Node {
	c.t.Helper()
	var leader *Node
	eventually(c.t, waitLong, func() bool {
		leader = nil
		count := 0
		for _, n := range c.live() {
			if n.IsLeader() {
				leader, count = n, count+1
			}
		}
		return count == 1
	}, "a single leader")
	return leader
}

// followers returns the live nodes other than the current leader.
func (c *testCluster) followers() []*Node {
	c.t.Helper()
	l := c.leader()
	var out []*Node
	for _, n := range c.live() {
		if n != l {
			out = append(out, n)
		}
	}
	return out
}

func (c *testCluster) live() []*Node {
	var out []*Node
	for _, n := range c.nodes {
		if !n.isShutdown() {
			out = append(out, n)
		}
	}
	return out
}

// waitConverged waits until every live node knows the same leader and has
// the leader's configuration and applied index.
func (c *testCluster) waitConverged() {
	c.t.Helper()
	l := c.leader()
	eventually(c.t, waitLong, func() bool {
		want := l.AppliedIndex()
		members, _ := l.Servers()
		for _, n := range c.live() {
			got, _ := n.Servers()
			if id, _ := n.Leader(); id != l.ID() || n.AppliedIndex() < want || len(got) != len(members) {
				return false
			}
		}
		return true
	}, "nodes converge on leader %s", l.ID())
}

// propose writes a SetNode through the current leader, retrying across
// leader changes with the same request ID, and returns the entry's index.
func (c *testCluster) propose(key string) uint64 {
	c.t.Helper()
	cmd := &fsm.SetNode{NodeID: key, HTTPAddr: "http://" + key}
	copy(cmd.ID[:], key)
	var index uint64
	eventually(c.t, waitLong, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, idx, err := c.leader().Propose(ctx, cmd)
		if err != nil && !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrIndeterminate) {
			c.t.Fatalf("propose %s: %v", key, err)
		}
		index = idx
		return err == nil
	}, "propose %s", key)
	return index
}

// restart shuts node i down and reopens it on the same data dir and, unless
// newPort, the same Raft address, with a fresh FSM.
func (c *testCluster) restart(i int, newPort bool) *Node {
	c.t.Helper()
	old := c.nodes[i]
	addr := old.Addr()
	if err := old.Shutdown(); err != nil {
		c.t.Fatalf("shutdown %s: %v", old.ID(), err)
	}
	cfg := c.cfgs[i]
	cfg.RaftBind, cfg.RaftAdvertise = addr, ""
	if newPort {
		cfg.RaftBind = "127.0.0.1:0"
	}
	n, err := Open(cfg, fsm.New())
	if err != nil {
		c.t.Fatalf("reopen %s: %v", cfg.NodeID, err)
	}
	c.nodes[i] = n
	return n
}

func (c *testCluster) shutdownAll() {
	for _, n := range c.nodes {
		if err := n.Shutdown(); err != nil && !strings.Contains(err.Error(), "closed") {
			c.t.Errorf("shutdown %s: %v", n.ID(), err)
		}
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	t.Cleanup(cancel)
	return ctx
}

// sameState waits until n and the leader have applied the same index and
// then requires their FSMs to write byte-identical snapshots (the fsm writes
// records in a fixed order, so equal states give equal bytes).
func (c *testCluster) sameState(n *Node) {
	c.t.Helper()
	l := c.leader()
	eventually(c.t, waitLong, func() bool { return n.AppliedIndex() == l.AppliedIndex() },
		"%s reaches the leader's index", n.ID())
	var a, b bytes.Buffer
	if _, err := l.fsm.Snapshot().WriteTo(&a); err != nil {
		c.t.Fatal(err)
	}
	if _, err := n.fsm.Snapshot().WriteTo(&b); err != nil {
		c.t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		c.t.Fatalf("%s and leader %s hold different state at index %d", n.ID(), l.ID(), l.AppliedIndex())
	}
}
