package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
	"github.com/tokend/tokend/test/testkit"
)

func TestHousekeeping_RegistersSelfAndPurges(t *testing.T) {
	t.Parallel()
	n := newFakeLeader("n1")
	c := newTestCluster(t, n, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.housekeep(ctx, 5*time.Millisecond, 20*time.Millisecond); close(done) }()
	purges := func() int {
		n.mu.Lock()
		defer n.mu.Unlock()
		c := 0
		for _, p := range n.proposals {
			if _, ok := p.(*fsm.Purge); ok {
				c++
			}
		}
		return c
	}
	eventually(t, 5*time.Second, "self registered and a purge proposed", func() bool {
		addr, _ := n.state.NodeAddr("n1")
		return addr == c.cfg.HTTPAdvertise && purges() > 0
	})
	cancel()
	<-done
}

func TestEvenVoters_TheLeaderWarnsOncePerCount(t *testing.T) {
	t.Parallel()
	var logs testkit.Buffer
	leader := newFakeLeader("n1")
	c := newTestCluster(t, leader, &logs)
	warned := func() int { return strings.Count(logs.String(), "even number of voters") }
	c.Members().WarnEvenVoters()
	if warned() != 0 {
		t.Fatalf("one voter: %s", logs.String())
	}
	leader.set(func(f *fakeNode) { f.servers = append(f.servers, raftnode.Server{ID: "n2", Voter: true}) })
	c.Members().WarnEvenVoters()
	c.Members().WarnEvenVoters()
	if warned() != 1 || !strings.Contains(logs.String(), "voters=2 quorum=2") {
		t.Fatalf("two voters, two rounds: want one warning:\n%s", logs.String())
	}
	leader.set(func(f *fakeNode) { f.servers = append(f.servers, raftnode.Server{ID: "n3", Voter: true}) })
	c.Members().WarnEvenVoters()
	if warned() != 1 {
		t.Fatalf("three voters: want no new warning:\n%s", logs.String())
	}
}
