package raftnode

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
)

func TestPropose_LeaderAppliesOnAllNodes(t *testing.T) {
	c := newCluster(t, 3, nil)
	owner := &fsm.PutUser{User: fsm.User{Username: "alice", Enabled: true, Realm: fsm.NativeRealm}}
	if _, _, err := c.leader().Propose(testCtx(t), owner); err != nil {
		t.Fatalf("propose user: %v", err)
	}
	cmd := &fsm.CreateToken{User: "alice", Realm: fsm.NativeRealm, Lifetime: 60_000}
	cmd.Access = fsm.DigestOf("access-1")
	cmd.ID[0] = 1
	res, index, err := c.leader().Propose(testCtx(t), cmd)
	if err != nil {
		t.Fatalf("propose: %v", err)
	}
	if res.Status != fsm.OK || index == 0 {
		t.Fatalf("propose = %+v at %d, want OK at a non-zero index", res, index)
	}
	if got := c.leader().AppliedIndex(); got < index {
		t.Fatalf("leader applied %d < proposed %d on return", got, index)
	}
	for _, n := range c.nodes {
		eventually(t, waitLong, func() bool { return n.AppliedIndex() >= index },
			"%s applies %d", n.ID(), index)
		if _, ok := n.fsm.AccessToken(cmd.Access); !ok {
			t.Fatalf("%s applied %d but has no token", n.ID(), index)
		}
	}
}

func TestPropose_FollowerReturnsErrNotLeader(t *testing.T) {
	c := newCluster(t, 3, nil)
	f := c.followers()[0]
	before := c.leader().Stats().LastLogIndex
	_, _, err := f.Propose(testCtx(t), &fsm.SetNode{NodeID: "x", HTTPAddr: "y"})
	if !errors.Is(err, ErrNotLeader) {
		t.Fatalf("propose on follower: %v, want ErrNotLeader", err)
	}
	if errors.Is(err, ErrNoLeader) {
		t.Fatalf("propose on follower with a known leader: %v, want plain ErrNotLeader", err)
	}
	if after := c.leader().Stats().LastLogIndex; after != before {
		t.Fatalf("leader log grew from %d to %d: something was proposed", before, after)
	}
}

func TestPropose_ExpiredContextProposesNothing(t *testing.T) {
	c := newCluster(t, 1, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := c.leader().Propose(ctx, &fsm.SetNode{NodeID: "x"})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrIndeterminate) {
		t.Fatalf("propose with a done context: %v, want context.Canceled, not indeterminate", err)
	}
}

func TestWaitApplied_FollowerWakesWhenEntryArrives(t *testing.T) {
	c := newCluster(t, 3, nil)
	f := c.followers()[0]
	target := c.leader().Stats().LastLogIndex + 1
	done := make(chan error, 1)
	go func() { done <- f.WaitApplied(testCtx(t), target) }()
	index := c.propose("wake")
	if index < target {
		t.Fatalf("proposed at %d, expected at least %d", index, target)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("WaitApplied: %v", err)
		}
	case <-time.After(waitLong):
		t.Fatal("WaitApplied did not return")
	}
	if got := f.AppliedIndex(); got < target {
		t.Fatalf("follower applied %d after WaitApplied(%d)", got, target)
	}
}

func TestWaitApplied_ContextAndShutdownEndTheWait(t *testing.T) {
	c := newCluster(t, 1, nil)
	n := c.nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := n.WaitApplied(ctx, 1<<40); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitApplied past the deadline: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- n.WaitApplied(context.Background(), 1<<40) }()
	if err := n.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-done; !errors.Is(err, ErrShutdown) {
		t.Fatalf("WaitApplied across shutdown: %v, want ErrShutdown", err)
	}
}

func TestReadIndex_LeaderCoversCompletedWritesFollowerRefuses(t *testing.T) {
	c := newCluster(t, 3, nil)
	index := c.propose("read-me")
	l := c.leader()
	got, err := l.ReadIndex(testCtx(t))
	if err != nil {
		t.Fatalf("ReadIndex on leader: %v", err)
	}
	if got < index || l.AppliedIndex() < got {
		t.Fatalf("ReadIndex = %d, proposed %d, leader applied %d", got, index, l.AppliedIndex())
	}
	for _, f := range c.followers() {
		if _, err := f.ReadIndex(testCtx(t)); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("ReadIndex on follower %s: %v, want ErrNotLeader", f.ID(), err)
		}
		// The returned index is one every follower's FSM reaches.
		if err := f.WaitApplied(testCtx(t), got); err != nil {
			t.Fatalf("follower WaitApplied(%d): %v", got, err)
		}
	}
}

func TestReadIndex_NewLeaderWithNoNewWritesDoesNotHang(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.propose("before")
	old := c.leader()
	if err := old.TransferLeadership(testCtx(t)); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	eventually(t, waitLong, func() bool { l := c.leader(); return l != old }, "a new leader")
	// The new leader's log now ends with its no-op and read marker, which
	// the FSM never applies; ReadIndex must still return promptly.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for range 3 {
		if _, err := c.leader().ReadIndex(ctx); err != nil {
			t.Fatalf("ReadIndex on the new leader: %v", err)
		}
	}
}

func TestWriteErr_TranslatesRaftErrors(t *testing.T) {
	c := newCluster(t, 1, nil)
	n := c.nodes[0]
	cases := []struct {
		in   error
		want error
	}{
		{raftErrLeadershipLost, ErrIndeterminate},
		{raftErrEnqueueTimeout, ErrIndeterminate},
		{context.DeadlineExceeded, ErrIndeterminate},
		{raftErrShutdown, ErrShutdown},
		{raftErrTransfer, ErrNoLeader},
	}
	for _, tc := range cases {
		if got := n.writeErr(tc.in); !errors.Is(got, tc.want) {
			t.Errorf("writeErr(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
