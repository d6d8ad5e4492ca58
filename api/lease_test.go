package api

import (
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
)

// expireLease drops n's read lease, as after a restart, or a partition or
// a pause longer than maxStaleness.
func expireLease(n *testNode) {
	n.srv.lease.renewed.Store(0)
}

// followerServingAToken starts a leader and a follower and issues a token
// that the follower has accepted (so it holds a read lease).
func followerServingAToken(t *testing.T) (leader, follower *testNode, access string) {
	t.Helper()
	leader = newLeader(t, nil)
	follower = newFollower(t, leader)
	access, _ = leader.issueDirect("alice", fsm.NativeRealm, 0)
	follower.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200)
	return leader, follower, access
}

// A follower whose read lease ran out catches up with the leader before it
// answers again, so an invalidation it missed holds there too, even though
// Raft's heartbeats (LastContact) say the leader is alive.
func TestReadLease_AFollowerWithoutALeaseCatchesUpBeforeAnswering(t *testing.T) {
	t.Parallel()
	leader, follower, access := followerServingAToken(t)

	// The leader invalidates it; the follower has not received the entry.
	leader.propose(&fsm.Invalidate{By: fsm.ByAccessToken, Token: fsm.DigestOf(access)})
	before := leader.node.readIndexes
	expireLease(follower)
	follower.do("GET", "/_security/_authenticate", "", bearer(access)...).wantError(t, 401, "security_exception", "token expired")
	if leader.node.readIndexes != before+1 {
		t.Fatalf("read index requests: %d, want one catch-up", leader.node.readIndexes-before)
	}
	// The renewed lease serves the next checks locally.
	follower.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 200)
	if leader.node.readIndexes != before+1 {
		t.Fatal("a check under a fresh lease went to the leader")
	}
}

// A leader serves from its state only while a quorum has recently confirmed
// its leadership: one that was paused or cut off, and may have been
// replaced, answers 503 until it can confirm it again.
func TestReadLease_ALeaderThatCannotConfirmItsLeadershipIs503(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	access, _ := leader.issueDirect("alice", fsm.NativeRealm, 0)
	leader.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200)
	leader.node.set(func(n *fakeNode) { n.readIndexErr = raftnode.ErrNotLeader })
	leader.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200) // its lease still runs
	expireLease(leader)
	leader.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 503)
	leader.node.set(func(n *fakeNode) { n.readIndexErr = nil })
	leader.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200)
}

// Without a lease and without a reachable leader, a follower refuses to
// answer from its state.
func TestReadLease_NoLeaseAndNoLeaderIs503(t *testing.T) {
	t.Parallel()
	leader, follower, access := followerServingAToken(t)
	leader.ts.Close()
	expireLease(follower)
	follower.do("GET", "/_security/_authenticate", "", bearer(access)...).
		wantError(t, 503, "master_not_discovered_exception", "leader [n1] is unreachable")
}

// A node that is not a member is refused a read index, so it cannot renew
// a lease; and after a removal, revocations wait for the leases the removed
// member may still hold.
func TestReadLease_RemovedMembersGetNoLeaseAndAreWaitedFor(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	leader.do("GET", "/_tokend/cluster/read_index", "", leader.proofFor("ghost", "GET", "/_tokend/cluster/read_index", "")...).
		wantError(t, 400, "illegal_argument_exception", "node [ghost] is not a member of the cluster")

	var l readLease
	now := time.Now()
	if end := l.removedLeasesEnd(now); !end.IsZero() {
		t.Fatalf("no removal, yet leases end at %v", end)
	}
	l.memberRemoved("n3", now.Add(-2*time.Second))
	l.memberRemoved("n4", now.Add(-maxStaleness-time.Second))
	if end, want := l.removedLeasesEnd(now), now.Add(maxStaleness-2*time.Second); !end.Equal(want) {
		t.Fatalf("leases of removed members end at %v, want %v (n3's)", end, want)
	}
	if end := l.removedLeasesEnd(now.Add(3 * time.Second)); !end.IsZero() {
		t.Fatalf("after every lease ran out: %v", end)
	}
	// While a removal is in progress, revocations wait a whole maxStaleness.
	l.memberRemoving("n5")
	later := now.Add(time.Minute)
	if end, want := l.removedLeasesEnd(later), later.Add(maxStaleness); !end.Equal(want) {
		t.Fatalf("during a removal leases end at %v, want %v", end, want)
	}
}

// A lease runs maxStaleness from the start of the catch-up that renewed it,
// and an older catch-up finishing late does not shorten it.
func TestReadLease_RunsFromTheStartOfTheLatestCatchUp(t *testing.T) {
	var l readLease
	now := time.Now().Add(10 * time.Second) // catch-ups start after leaseEpoch
	if l.valid(now) {
		t.Fatal("a lease held before any catch-up")
	}
	l.renewedAt(now.Add(-time.Second))
	if !l.valid(now) || !l.valid(now.Add(maxStaleness-2*time.Second)) || l.valid(now.Add(maxStaleness-time.Second)) {
		t.Fatal("a lease renewed 1 s ago must run for maxStaleness - 1 s more, and no longer")
	}
	l.renewedAt(now.Add(-3 * time.Second)) // an older catch-up completing late
	if !l.valid(now.Add(maxStaleness - 2*time.Second)) {
		t.Fatal("an older catch-up shortened the lease")
	}
}
