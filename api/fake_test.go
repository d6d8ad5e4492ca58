package api

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
)

// fakeLog is the replicated log shared by the fake nodes of one test
// cluster. Entries are applied to a node's FSM only when that node proposes
// (the leader) or waits for them (WaitApplied), so a follower is stale until
// something makes it catch up, which is what the API must handle.
type fakeLog struct {
	mu      sync.Mutex
	entries []fsm.Command
	clock   testClock // the wall clock of every node of the cluster (Config.Clock)
}

// testClock is the real clock moved on by a settable amount, so that a test
// can let time pass (a token grow old, a retry window close) at once.
type testClock struct {
	ahead atomic.Int64 // nanoseconds
}

// now is the clock's time.
func (c *testClock) now() time.Time { return time.Now().Add(time.Duration(c.ahead.Load())) }

// advance moves the clock d on.
func (c *testClock) advance(d time.Duration) { c.ahead.Add(int64(d)) }

// fakeNode implements Node over a real fsm.FSM.
type fakeNode struct {
	log   *fakeLog
	id    string
	state *fsm.FSM

	mu          sync.Mutex
	applied     uint64
	leader      bool
	leaderID    string
	proposeErrs []error // returned by the next Propose calls, in order
	// hold, while set, holds every proposal until it is closed; held
	// counts the proposals that were held.
	hold         chan struct{}
	held         int
	readIndexErr error // returned by ReadIndex while set (a deposed leader)
	proposals    []fsm.Command
	readIndexes  int
	waits        []uint64
	servers      []raftnode.Server
	lastContact  time.Time
	joins        []string
	removed      []string
	promoted     []string
	transfers    []string
	onTransfer   func(target string)

	// readIndexHold, while set, holds every ReadIndex until it is closed.
	readIndexHold chan struct{}
	// changed is closed, and replaced, whenever set or a transfer may have
	// changed the leader (LeaderChange).
	changed chan struct{}
}

// errApplyThenIndeterminate makes Propose apply the entry and still report
// ErrIndeterminate, like a leader that lost leadership after committing.
var errApplyThenIndeterminate = errors.New("apply, then report indeterminate")

func newFakeLeader(id string) *fakeNode {
	return &fakeNode{log: &fakeLog{}, id: id, state: fsm.New(), leader: true, leaderID: id, lastContact: time.Now(),
		servers: []raftnode.Server{{ID: id, Address: id + ":9300", Voter: true, Leader: true}}}
}

// newFakeFollower returns a follower of leader's cluster.
func newFakeFollower(id string, leader *fakeNode) *fakeNode {
	n := &fakeNode{log: leader.log, id: id, state: fsm.New(), leaderID: leader.id, lastContact: time.Now()}
	leader.mu.Lock()
	leader.servers = append(leader.servers, raftnode.Server{ID: id, Address: id + ":9300", Voter: true})
	n.servers = leader.servers
	leader.mu.Unlock()
	return n
}

// applyTo applies the log up to index; the caller holds n.mu.
func (n *fakeNode) applyTo(index uint64) fsm.Result {
	n.log.mu.Lock()
	defer n.log.mu.Unlock()
	var res fsm.Result
	for n.applied < index && int(n.applied) < len(n.log.entries) {
		n.applied++
		res = n.state.Apply(n.applied, n.log.entries[n.applied-1])
	}
	return res
}

func (n *fakeNode) logLen() uint64 {
	n.log.mu.Lock()
	defer n.log.mu.Unlock()
	return uint64(len(n.log.entries))
}

func (n *fakeNode) Propose(ctx context.Context, c fsm.Command) (fsm.Result, uint64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.proposals = append(n.proposals, c)
	if hold := n.hold; hold != nil {
		// A leader cut off or paused: the entry is appended but cannot
		// commit until the hold is released; then it does, whoever leads.
		n.held++
		n.mu.Unlock()
		<-hold
		n.mu.Lock()
		return n.appendAndApply(c)
	}
	if !n.leader {
		return fsm.Result{}, 0, raftnode.ErrNotLeader
	}
	var injected error
	if len(n.proposeErrs) > 0 {
		injected, n.proposeErrs = n.proposeErrs[0], n.proposeErrs[1:]
		if injected != errApplyThenIndeterminate {
			return fsm.Result{}, 0, injected
		}
	}
	res, index, _ := n.appendAndApply(c)
	if injected != nil {
		return fsm.Result{}, 0, raftnode.ErrIndeterminate
	}
	return res, index, nil
}

// appendAndApply appends c to the log and applies the log up to it; the
// caller holds n.mu.
func (n *fakeNode) appendAndApply(c fsm.Command) (fsm.Result, uint64, error) {
	n.log.mu.Lock()
	n.log.entries = append(n.log.entries, c)
	index := uint64(len(n.log.entries))
	n.log.mu.Unlock()
	return n.applyTo(index), index, nil
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

func (n *fakeNode) WaitApplied(ctx context.Context, index uint64) error {
	n.mu.Lock()
	n.waits = append(n.waits, index)
	n.applyTo(index)
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
	n.readIndexes++
	hold := n.readIndexHold
	n.mu.Unlock()
	if hold != nil {
		<-hold
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.leader {
		return 0, raftnode.ErrNotLeader
	}
	if n.readIndexErr != nil {
		return 0, n.readIndexErr
	}
	return n.applied, nil
}

func (n *fakeNode) Join(ctx context.Context, id, raftAddr string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.joins = append(n.joins, id+"@"+raftAddr)
	for _, s := range n.servers {
		if s.ID == id {
			return nil
		}
	}
	n.servers = append(n.servers, raftnode.Server{ID: id, Address: raftAddr})
	return nil
}

func (n *fakeNode) Promote(ctx context.Context, id string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, s := range n.servers {
		if s.ID == id {
			n.servers[i].Voter = true
			n.promoted = append(n.promoted, id)
			return nil
		}
	}
	return raftnode.ErrNotFound
}

// TransferLeadershipTo hands leadership to voter id (or the first other
// voter): this node becomes a follower of it and onTransfer, if set, makes
// the target lead.
func (n *fakeNode) TransferLeadershipTo(ctx context.Context, id string) error {
	n.mu.Lock()
	if !n.leader {
		n.mu.Unlock()
		return raftnode.ErrNotLeader
	}
	target := ""
	for _, s := range n.servers {
		switch {
		case id != "" && s.ID == id && !s.Voter:
			n.mu.Unlock()
			return raftnode.ErrNotVoter
		case (id == "" && s.ID != n.id && s.Voter) || (id != "" && s.ID == id):
			target = s.ID
		}
	}
	if target == "" {
		n.mu.Unlock()
		return raftnode.ErrNotFound
	}
	n.transfers = append(n.transfers, target)
	if target != n.id {
		n.leader, n.leaderID = false, target
		n.leaderMayHaveChanged()
	}
	hook := n.onTransfer
	n.mu.Unlock()
	if hook != nil && target != n.id {
		hook(target)
	}
	return nil
}

func (n *fakeNode) Addr() string { return n.id + ":9300" }

func (n *fakeNode) LeaderChange() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.changed == nil {
		n.changed = make(chan struct{})
	}
	return n.changed
}

// leaderMayHaveChanged wakes LeaderChange's waiters; the caller holds n.mu.
func (n *fakeNode) leaderMayHaveChanged() {
	if n.changed != nil {
		close(n.changed)
		n.changed = nil
	}
}

func (n *fakeNode) Remove(ctx context.Context, id string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, s := range n.servers {
		if s.ID == id {
			n.servers = append(n.servers[:i:i], n.servers[i+1:]...)
			n.removed = append(n.removed, id)
			return nil
		}
	}
	return raftnode.ErrNotFound
}

func (n *fakeNode) Servers() ([]raftnode.Server, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]raftnode.Server(nil), n.servers...), nil
}

func (n *fakeNode) LastContact() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lastContact
}

func (n *fakeNode) Stats() raftnode.Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	state := "Follower"
	if n.leader {
		state = "Leader"
	}
	return raftnode.Stats{ID: n.id, State: state, LeaderID: n.leaderID, Term: 1, CommitIndex: n.logLen(),
		AppliedIndex: n.applied, LastLogIndex: n.logLen(), LastContact: n.lastContact}
}

// Term is the fake's constant term.
func (n *fakeNode) Term() uint64 { return 1 }

// set changes the node's fields under its lock.
func (n *fakeNode) set(f func(n *fakeNode)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	f(n)
	n.leaderMayHaveChanged()
}
