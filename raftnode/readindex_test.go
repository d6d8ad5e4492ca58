package raftnode

import (
	"context"
	"testing"
	"time"
)

// A leader whose voters are gone but which still reaches a non-voter must
// not pass a read index: hashicorp/raft's VerifyLeader counts the
// non-voter's acknowledgement towards the quorum, so a deposed (or cut off)
// leader could hand out a read index that misses newer writes.
func TestReadIndex_ANonVoterDoesNotConfirmLeadership(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	if _, err := l.ReadIndex(testCtx(t)); err != nil { // the term's marker is committed
		t.Fatal(err)
	}
	nv := c.nodes[c.add()]
	ctx := testCtx(t)
	if err := l.Join(ctx, nv.ID(), nv.Addr()); err != nil { // a non-voter, never promoted
		t.Fatal(err)
	}
	eventually(t, waitLong, func() bool { return nv.AppliedIndex() >= l.AppliedIndex() }, "the non-voter catches up")
	for _, f := range c.followers() {
		if f != nv {
			if err := f.Shutdown(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Raft's own leader lease (DefaultLeaderLeaseTimeout) has not run out
	// yet: l still believes it leads.
	rctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := l.ReadIndex(rctx); err == nil {
		t.Fatal("a leader without a quorum of voters passed a read index (a non-voter confirmed it)")
	}
}
