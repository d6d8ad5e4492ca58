package api

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
)

// expireLease drops n's read lease, as after a restart, or a partition or
// a pause longer than the lease.
func expireLease(n *testNode) {
	n.srv.cluster.Reads().DropLease()
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
// a lease. (Revocations wait for the grants a removed member still holds:
// raftnode/lease.)
func TestReadLease_NonMembersGetNoLease(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	leader.do("GET", "/_tokend/cluster/read_index", "", leader.proofFor("ghost", "GET", "/_tokend/cluster/read_index", "")...).
		wantError(t, 400, "illegal_argument_exception", "node [ghost] is not a member of the cluster")
}

// A replica that refuses connections may still be answering from its state
// (only its advertised address may be refusing): a revocation waits for it
// until the lease the leader granted it has run out, and no longer. Once it
// holds no lease, it costs revocations nothing.
func TestRevocation_WaitsForAReplicaThatRefusesConnectionsUntilItsLeaseEnds(t *testing.T) {
	t.Parallel()
	const length = 600 * time.Millisecond
	leader := newLeader(t, nil)
	leader.srv.cluster.SetGrantLength(length)
	follower := newFollower(t, leader)
	first, _ := leader.issueDirect("alice", fsm.NativeRealm, 0)
	second, _ := leader.issueDirect("alice", fsm.NativeRealm, 0)
	granted := time.Now()
	follower.do("GET", "/_security/_authenticate", "", bearer(first)...).want(t, 200) // a catch-up: a grant
	follower.ts.Close()
	leader.do("DELETE", "/_security/oauth2/token", `{"token":"`+first+`"}`).want(t, 200)
	if d := time.Since(granted); d < length {
		t.Fatalf("the invalidation answered %v after the grant, before the replica's lease of %v ran out", d, length)
	}
	start := time.Now()
	leader.do("DELETE", "/_security/oauth2/token", `{"token":"`+second+`"}`).want(t, 200)
	if d := time.Since(start); d > length/2 {
		t.Fatalf("the invalidation waited %v for a replica whose lease had run out", d)
	}
}

// A replica that cannot apply a revocation yet raises its fence when the
// leader asks: the revocation answers at once, and the replica refuses to
// answer from its state until it has applied it.
func TestRevocation_AFencedReplicaAnswers503UntilItApplies(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	access, _ := leader.issueDirect("alice", fsm.NativeRealm, 0)
	follower.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200)
	index := leader.node.logLen() + 1
	path := "/_tokend/cluster/wait_applied?fence=true&index=" + strconv.FormatUint(index, 10)
	m := follower.do("GET", path, "", follower.proofFor("n1", "GET", path, "")...).want(t, 200).json(t)
	if m["fenced"] != true {
		t.Fatalf("wait_applied with fence: %v", m)
	}
	follower.do("GET", "/_security/_authenticate", "", bearer(access)...).
		wantError(t, 503, "status_exception", fmt.Sprintf("this node has not applied revocation [%d] of the leader yet", index))
	leader.propose(&fsm.Invalidate{By: fsm.ByAccessToken, Token: fsm.DigestOf(access)})
	follower.do("GET", "/_security/_authenticate", "", bearer(access)...).wantError(t, 401, "security_exception", "token expired")
}

// Well-formed tokens a node does not know each need a catch-up with the
// leader before they are refused; concurrent ones share one read-index
// round trip instead of each making its own.
func TestCatchUp_ConcurrentUnknownTokensShareOneReadIndex(t *testing.T) {
	t.Parallel()
	const checks = 20
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	follower.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 200) // a lease
	hold := make(chan struct{})
	leader.node.set(func(n *fakeNode) { n.readIndexHold = hold })
	before := leader.node.readIndexes
	var wg sync.WaitGroup
	for range checks {
		wg.Go(func() {
			unknown, _ := credentials.NewToken(credentials.AccessPrefix)
			follower.do("GET", "/_security/_authenticate", "", bearer(unknown)...).
				wantError(t, 401, "security_exception", "unable to authenticate with provided credentials")
		})
	}
	// One catch-up is held at the leader; every other check joins it or
	// the next one.
	eventually(t, 10*time.Second, "every check waits for a shared catch-up",
		func() bool { return follower.srv.cluster.Reads().JoinedCatchUps() >= checks-2 })
	close(hold)
	wg.Wait()
	leader.node.mu.Lock()
	got := leader.node.readIndexes - before
	leader.node.mu.Unlock()
	if got > 2 {
		t.Fatalf("%d concurrent checks of unknown tokens made %d read-index requests, want at most 2", checks, got)
	}
}

// A new leader may not have applied a user's creation that was committed
// under the previous leader. Changing that user (here disabling it) is an
// update, and it must hold on every replica before it is answered, even
// though this leader's state did not show the user when the request came.
func TestPutUser_UpdateOfAUserTheLeaderHadNotAppliedWaitsForReplicas(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("dave-password"), 10) // the least password_hash takes
	if err != nil {
		t.Fatal(err)
	}
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	// Committed, applied by the follower, not yet by the leader.
	leader.node.log.mu.Lock()
	leader.node.log.entries = append(leader.node.log.entries,
		&fsm.PutUser{User: fsm.User{Username: "dave", Hash: hash, Enabled: true, Realm: fsm.NativeRealm}})
	leader.node.log.mu.Unlock()
	if err := follower.node.WaitApplied(t.Context(), leader.node.logLen()); err != nil {
		t.Fatal(err)
	}
	follower.do("GET", "/_security/_authenticate", "", basicAuth("dave", "dave-password")...).want(t, 200)
	if _, ok := leader.node.state.User("dave"); ok {
		t.Fatal("the leader applied the creation already")
	}
	body := fmt.Sprintf(`{"password_hash":%q,"roles":[],"enabled":false}`, hash)
	leader.do("PUT", "/_security/user/dave", body, basicAuth("elastic", "elastic-pw")...).want(t, 200)
	follower.node.set(func(n *fakeNode) { n.lastContact = time.Now() }) // bcrypt is slow under -race
	follower.do("GET", "/_security/_authenticate", "", basicAuth("dave", "dave-password")...).want(t, 401)
}
