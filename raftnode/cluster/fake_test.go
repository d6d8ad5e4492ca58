package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"

	"github.com/tokend/tokend/test/testkit"
)

// fakeNode implements Node over a real fsm.FSM for one node: a leader
// applies what it proposes at once.
type fakeNode struct {
	id    string
	state *fsm.FSM

	mu        sync.Mutex
	leader    bool
	leaderID  string
	applied   uint64
	servers   []raftnode.Server
	proposals []fsm.Command
	promoted  []string
	changed   chan struct{} // closed, and replaced, by set (LeaderChange)
}

func newFakeLeader(id string) *fakeNode {
	return &fakeNode{id: id, state: fsm.New(), leader: true, leaderID: id,
		servers: []raftnode.Server{{ID: id, Address: id + ":9300", Voter: true, Leader: true}}}
}

// newTestCluster returns the coordination of n, logging to log (discarded
// when nil).
func newTestCluster(t *testing.T, n *fakeNode, log io.Writer) *Cluster {
	t.Helper()
	if log == nil {
		log = io.Discard
	}
	c, err := New(Config{NodeID: n.id, HTTPAdvertise: "127.0.0.1:9200", RequestTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(log, nil))}, n, n.state)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (n *fakeNode) Propose(ctx context.Context, c fsm.Command) (fsm.Result, uint64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.proposals = append(n.proposals, c)
	if !n.leader {
		return fsm.Result{}, 0, raftnode.ErrNotLeader
	}
	n.applied++
	return n.state.Apply(n.applied, c), n.applied, nil
}

func (n *fakeNode) IsLeader() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader
}

func (n *fakeNode) Leader() (string, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.leaderID == "" {
		return "", ""
	}
	return n.leaderID, n.leaderID + ":9300"
}

func (n *fakeNode) LeaderChange() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.changed == nil {
		n.changed = make(chan struct{})
	}
	return n.changed
}

func (n *fakeNode) WaitApplied(ctx context.Context, index uint64) error {
	n.mu.Lock()
	done := n.applied >= index
	n.mu.Unlock()
	if done {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (n *fakeNode) ReadIndex(ctx context.Context) (uint64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.leader {
		return 0, raftnode.ErrNotLeader
	}
	return n.applied, nil
}

func (n *fakeNode) Join(ctx context.Context, id, raftAddr string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.servers = append(n.servers, raftnode.Server{ID: id, Address: raftAddr})
	return nil
}

func (n *fakeNode) Promote(ctx context.Context, id string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.promoted = append(n.promoted, id)
	return nil
}

func (n *fakeNode) Remove(ctx context.Context, id string) error { return raftnode.ErrNotFound }

func (n *fakeNode) TransferLeadershipTo(ctx context.Context, id string) error {
	return raftnode.ErrNotFound
}

func (n *fakeNode) Addr() string { return n.id + ":9300" }

func (n *fakeNode) Servers() ([]raftnode.Server, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]raftnode.Server(nil), n.servers...), nil
}

func (n *fakeNode) LastContact() time.Time { return time.Now() }

func (n *fakeNode) Stats() raftnode.Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	state := "Follower"
	if n.leader {
		state = "Leader"
	}
	return raftnode.Stats{ID: n.id, State: state, LeaderID: n.leaderID, Term: 1, CommitIndex: n.applied,
		AppliedIndex: n.applied, LastLogIndex: n.applied, LastContact: time.Now()}
}

func (n *fakeNode) Term() uint64 { return 1 }

// set changes the node's fields under its lock.
func (n *fakeNode) set(f func(n *fakeNode)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	f(n)
	if n.changed != nil {
		close(n.changed)
		n.changed = nil
	}
}

// eventually polls cond until it holds or the timeout passes
// (testkit.Eventually, for a condition without a reason).
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, timeout, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

// errNotYet is what eventually reports of a condition that never held.
var errNotYet = errors.New("the condition does not hold")
