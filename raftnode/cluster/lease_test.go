package cluster

import (
	"testing"
	"time"

	"github.com/tokend/tokend/raftnode"
)

// A lease runs holderLease from the start of the catch-up that renewed it,
// and an older catch-up finishing late does not shorten it.
func TestReadLease_RunsFromTheStartOfTheLatestCatchUp(t *testing.T) {
	var l readLease
	now := time.Now().Add(10 * time.Second) // catch-ups start after leaseEpoch
	if l.valid(now, 0) {
		t.Fatal("a lease held before any catch-up")
	}
	l.renewedAt(now.Add(-time.Second), holderLease, 0)
	if !l.valid(now, 0) || !l.valid(now.Add(holderLease-time.Second-time.Millisecond), 0) || l.valid(now.Add(holderLease-time.Second), 0) {
		t.Fatal("a lease renewed 1 s ago must run for holderLease - 1 s more, and no longer")
	}
	l.renewedAt(now.Add(-3*time.Second), holderLease, 0) // an older catch-up completing late
	if !l.valid(now.Add(holderLease-time.Second-time.Millisecond), 0) {
		t.Fatal("an older catch-up shortened the lease")
	}
}

// A leader answers from its state only under a lease it won as leader in
// its current term, and that lease is short: a follower's lease it still
// held when elected does not count, and its own runs leaderHolderLease.
func TestReadLease_ALeaderNeedsItsOwnShortLeaseOfItsTerm(t *testing.T) {
	var l readLease
	now := time.Now().Add(10 * time.Second)
	l.renewedAt(now, holderLease, 0) // won as a follower, then elected in term 4
	if !l.valid(now, 0) || l.valid(now, 4) {
		t.Fatal("a follower's lease must serve a follower only")
	}
	l.renewedAt(now, leaderHolderLease, 4)
	if !l.valid(now, 4) || l.valid(now.Add(leaderHolderLease), 4) || l.valid(now, 5) {
		t.Fatal("a leader's lease runs leaderHolderLease in its own term only")
	}
	if !l.valid(now, 0) {
		t.Fatal("once deposed, its own short lease still serves it until it ends")
	}
	if leaderHolderLease >= raftnode.DefaultHeartbeatTimeout {
		t.Fatal("a leader's lease must fit inside Raft's heartbeat timeout")
	}
}
