package raftnode

import (
	"errors"
	"testing"
)

// suffrage returns id's entry as n sees it, failing if it is absent.
func suffrage(t *testing.T, n *Node, id string) Server {
	t.Helper()
	servers, err := n.Servers()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("%s is not in %s's configuration", id, n.ID())
	return Server{}
}

func TestJoin_NewServerEntersAsNonVoterUntilPromoted(t *testing.T) {
	c := newCluster(t, 1, nil)
	l := c.leader()
	n := c.nodes[c.add()]
	if err := l.Join(testCtx(t), n.ID(), n.Addr()); err != nil {
		t.Fatalf("join: %v", err)
	}
	if s := suffrage(t, l, n.ID()); s.Voter {
		t.Fatalf("joined straight as a voter: %+v", s)
	}
	index := c.propose("while-non-voter")
	eventually(t, waitLong, func() bool { return n.AppliedIndex() >= index }, "non-voter receives the log")
	if n.IsLeader() || !l.IsLeader() {
		t.Fatal("leadership moved to the non-voter")
	}
	for range 2 { // the second promotion is a no-op
		if err := l.Promote(testCtx(t), n.ID()); err != nil {
			t.Fatalf("promote: %v", err)
		}
	}
	if s := suffrage(t, l, n.ID()); !s.Voter || s.Address != n.Addr() {
		t.Fatalf("after promotion: %+v", s)
	}
	if err := l.Promote(testCtx(t), "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("promote unknown: %v, want ErrNotFound", err)
	}
}

func TestJoin_RejoinOfAVoterAtItsAddressKeepsItsVote(t *testing.T) {
	c := newCluster(t, 3, nil)
	l, f := c.leader(), c.followers()[0]
	before := l.Stats().LastLogIndex
	if err := l.Join(testCtx(t), f.ID(), f.Addr()); err != nil {
		t.Fatalf("rejoin: %v", err)
	}
	if s := suffrage(t, l, f.ID()); !s.Voter {
		t.Fatalf("a voter re-joining at its address was demoted: %+v", s)
	}
	if after := l.Stats().LastLogIndex; after != before {
		t.Fatalf("log grew from %d to %d", before, after)
	}
}

func TestJoin_NonVoterAtANewAddressIsReaddressedAndStaysNonVoter(t *testing.T) {
	c := newCluster(t, 1, nil)
	l := c.leader()
	i := c.add()
	if err := l.Join(testCtx(t), c.nodes[i].ID(), c.nodes[i].Addr()); err != nil {
		t.Fatal(err)
	}
	n := c.restart(i, true)
	if err := l.Join(testCtx(t), n.ID(), n.Addr()); err != nil {
		t.Fatalf("re-address: %v", err)
	}
	if s := suffrage(t, l, n.ID()); s.Voter || s.Address != n.Addr() {
		t.Fatalf("after re-address: %+v, want non-voter at %s", s, n.Addr())
	}
	index := c.propose("after-readdress")
	eventually(t, waitLong, func() bool { return n.AppliedIndex() >= index }, "re-addressed non-voter catches up")
}

func TestTransferLeadershipTo_NamedVoter(t *testing.T) {
	c := newCluster(t, 3, nil)
	old := c.leader()
	target := c.followers()[1]
	if err := old.TransferLeadershipTo(testCtx(t), target.ID()); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	eventually(t, waitLong, target.IsLeader, "%s becomes leader", target.ID())
	l := c.leader()
	if err := l.TransferLeadershipTo(testCtx(t), l.ID()); err != nil {
		t.Fatalf("transfer to itself: %v", err)
	}
	if err := l.TransferLeadershipTo(testCtx(t), "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("transfer to unknown: %v", err)
	}
	n := c.nodes[c.add()]
	if err := l.Join(testCtx(t), n.ID(), n.Addr()); err != nil {
		t.Fatal(err)
	}
	if err := l.TransferLeadershipTo(testCtx(t), n.ID()); !errors.Is(err, ErrNotVoter) {
		t.Fatalf("transfer to a non-voter: %v, want ErrNotVoter", err)
	}
	if err := c.followers()[0].TransferLeadershipTo(testCtx(t), ""); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("transfer on a follower: %v", err)
	}
}
