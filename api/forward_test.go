package api

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
	"github.com/tokend/tokend/raftnode/cluster"
)

// A follower grants tokens itself and sends them to the leader to commit.
// It answers as soon as the leader has committed; a later check of that
// token on the follower catches up first. A revocation is proxied to the
// leader, and the follower waits until it has applied the leader's entry
// itself, so its own next check refuses the token without asking anyone.
func TestForward_FollowerGrantsThroughTheLeaderAndWaitsForRevocations(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	r := follower.do("POST", "/_security/oauth2/token", `{"grant_type":"password","username":"alice","password":"alice-pw"}`).want(t, 200)
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("grant answer headers: %v", r.header)
	}
	if got := r.header.Get(headerAppliedIndex); got != "" {
		t.Fatalf("a token grant made the follower wait for index %s", got)
	}
	access := r.json(t)["access_token"].(string)
	if _, ok := leader.node.state.AccessToken(fsm.DigestOf(access)); !ok {
		t.Fatal("the follower answered a token the leader has not committed")
	}
	follower.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200)

	r = follower.do("DELETE", "/_security/oauth2/token", `{"token":"`+access+`"}`).want(t, 200)
	index, err := strconv.ParseUint(r.header.Get(headerAppliedIndex), 10, 64)
	if err != nil {
		t.Fatalf("applied index header of the invalidation: %v", r.header)
	}
	follower.node.mu.Lock()
	waited := len(follower.node.waits) > 0 && follower.node.waits[len(follower.node.waits)-1] == index && follower.node.applied >= index
	follower.node.mu.Unlock()
	if !waited {
		t.Fatalf("the follower answered the invalidation before applying index %d: waits %v", index, follower.node.waits)
	}
	before := leader.node.readIndexes
	follower.do("GET", "/_security/_authenticate", "", bearer(access)...).wantError(t, 401, "security_exception", "token expired")
	if leader.node.readIndexes != before {
		t.Fatal("the follower asked the leader about a token it had seen invalidated")
	}
}

func TestCatchUp_FollowerFindsWhatTheLeaderAnswered(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	access, _ := leader.issueDirect("alice", fsm.NativeRealm, 0) // not yet applied on the follower
	follower.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200)
	if leader.node.readIndexes == 0 {
		t.Fatal("the follower did not ask the leader for its read index")
	}
	hash := mustUser(t, leader, "monty").Hash
	leader.propose(&fsm.PutUser{User: fsm.User{Username: "newbie", Hash: hash, Enabled: true, Realm: fsm.NativeRealm}})
	follower.do("GET", "/_security/_authenticate", "", basicAuth("newbie", "monty-pw")...).want(t, 200)
	// A password changed on the leader is seen at once too.
	leader.propose(&fsm.SetPassword{Username: "newbie", Hash: mustUser(t, leader, "alice").Hash})
	follower.do("GET", "/_security/_authenticate", "", basicAuth("newbie", "alice-pw")...).want(t, 200)
}

func TestForward_UnreachableLeaderIs503NotAGuess(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	leader.ts.Close()
	unknown, _ := credentials.NewToken(credentials.AccessPrefix)
	r := follower.do("GET", "/_security/_authenticate", "", bearer(unknown)...)
	r.wantError(t, 503, "master_not_discovered_exception", "leader [n1] is unreachable")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	follower.do("POST", "/_security/oauth2/token", `{"grant_type":"client_credentials"}`, basicAuth("alice", "alice-pw")...).
		wantError(t, 503, "master_not_discovered_exception", "leader [n1] is unreachable")
}

func TestForward_NeverTwice(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	follower.do("POST", "/_security/oauth2/token", `{"grant_type":"client_credentials"}`, headerForwarded, "n3").
		wantError(t, 503, "not_master_exception", "this node lost leadership during the request")
}

func TestNoLeader_WritesAndReadsAnswer503(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	follower.node.set(func(n *fakeNode) { n.leaderID = "" })
	follower.srv.cluster.Members().EndStartupGrace()
	r := follower.do("POST", "/_security/oauth2/token", `{"grant_type":"password","username":"alice","password":"alice-pw"}`)
	noLeader := "no leader is elected yet (2 of 2 voters reachable); an election is under way"
	r.wantError(t, 503, "master_not_discovered_exception", noLeader)
	if r.header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After: %q", r.header.Get("Retry-After"))
	}
	follower.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).
		wantError(t, 503, "master_not_discovered_exception", noLeader)
	// A follower that lost contact with its leader does not answer from memory.
	follower.node.set(func(n *fakeNode) { n.leaderID, n.lastContact = "n1", time.Now().Add(-time.Minute) })
	follower.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).
		wantError(t, 503, "status_exception", "this node has lost contact with the leader")
}

func TestPropose_ErrorsMapTo503(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	body := `{"grant_type":"client_credentials"}`
	auth := basicAuth("alice", "alice-pw")
	for _, c := range []struct {
		err         error
		typ, reason string
	}{
		{raftnode.ErrNoLeader, "master_not_discovered_exception", "no leader is elected"},
		{raftnode.ErrNotLeader, "not_master_exception", "this node lost leadership during the request"},
		{raftnode.ErrShutdown, "node_closed_exception", "node is shutting down"},
		{errors.New("raftnode: something odd"), "status_exception", "the cluster is unavailable"},
	} {
		n.node.set(func(f *fakeNode) { f.proposeErrs = []error{c.err} })
		r := n.do("POST", "/_security/oauth2/token", body, auth...)
		r.wantError(t, 503, c.typ, c.reason)
		if r.header.Get("Retry-After") == "" {
			t.Fatalf("%v: no Retry-After", c.err)
		}
	}
}

func TestPropose_IndeterminateIsRetriedOnceWithTheSameID(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	_, refresh := n.passwordGrant("alice", "alice-pw")
	n.node.set(func(f *fakeNode) { f.proposeErrs = []error{errApplyThenIndeterminate}; f.proposals = nil })
	r := n.do("POST", "/_security/oauth2/token", `{"grant_type":"refresh_token","refresh_token":"`+refresh+`"}`).want(t, 200)
	n.node.mu.Lock()
	props := n.node.proposals
	n.node.mu.Unlock()
	if len(props) != 2 || props[0].Header().ID != props[1].Header().ID {
		t.Fatalf("want two proposals with one ID, got %d", len(props))
	}
	// The entry applied once: its pair is the one answered, and it works.
	n.do("GET", "/_security/_authenticate", "", bearer(r.json(t)["access_token"].(string))...).want(t, 200)

	n.node.set(func(f *fakeNode) { f.proposeErrs = []error{raftnode.ErrIndeterminate, raftnode.ErrIndeterminate} })
	n.do("POST", "/_security/oauth2/token", `{"grant_type":"client_credentials"}`, basicAuth("alice", "alice-pw")...).
		wantError(t, 503, "status_exception", "the outcome of the request is unknown; retry it")
}

func TestRevocation_HoldsOnEveryNodeBeforeItIsAnswered(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	access, _ := leader.issueDirect("alice", fsm.NativeRealm, 0)
	follower.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200) // the follower now holds it
	leader.do("DELETE", "/_security/oauth2/token", `{"token":"`+access+`"}`).want(t, 200)
	// The leader answered only after the follower applied the invalidation,
	// so the follower refuses the token from its own state.
	follower.do("GET", "/_security/_authenticate", "", bearer(access)...).wantError(t, 401, "security_exception", "token expired")
	leader.do("PUT", "/_security/user/monty/_disable", "", basicAuth("elastic", "elastic-pw")...).want(t, 200)
	follower.do("GET", "/_security/_authenticate", "", basicAuth("monty", "monty-pw")...).want(t, 401)
}

func TestWaitApplied_Route(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	leader.issueDirect("alice", fsm.NativeRealm, 0)
	index := leader.node.logLen()
	path := "/_tokend/cluster/wait_applied?index=" + strconv.FormatUint(index, 10)
	follower.do("GET", path, "").want(t, 401)
	follower.do("GET", path, "", follower.proofFor("n1", "GET", path, "")...).want(t, 200)
	later := "/_tokend/cluster/wait_applied?index=" + strconv.FormatUint(index+5, 10) + "&timeout=50ms"
	follower.do("GET", later, "", follower.proofFor("n1", "GET", later, "")...).want(t, 503)
	bad := "/_tokend/cluster/wait_applied?index=x"
	follower.do("GET", bad, "", follower.proofFor("n1", "GET", bad, "")...).want(t, 400)
}

// A node that has just restarted knows its leader from Raft before its state
// has replayed the log that records the leader's HTTP address. It reports
// itself not ready, and a request it must send to the leader waits for the
// replay instead of failing.
func TestRestartedFollower_WaitsForTheLeadersAddressInsteadOfFailing(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	f := startNode(t, newFakeFollower("n2", leader.node), nil) // nothing applied yet
	leader.propose(&fsm.SetNode{NodeID: "n2", HTTPAddr: f.srv.cfg.HTTPAdvertise})
	f.do("GET", "/_tokend/readyz", "").wantError(t, 503, "status_exception",
		"not ready: the leader's HTTP address is not in this node's state yet")

	// Creating a user is forwarded to the leader; checking the admin's
	// password first needs the leader's read index.
	f.do("PUT", "/_security/user/carol", `{"password":"carol-password","roles":[]}`,
		basicAuth("elastic", "elastic-pw")...).want(t, 200)
	if _, ok := leader.node.state.User("carol"); !ok {
		t.Fatal("the forwarded write did not reach the leader")
	}
	f.do("GET", "/_tokend/readyz", "").want(t, 200)
}

// A follower whose state is more than cluster.MaxApplyLag entries behind what it
// knows to be committed is not ready until it has applied them.
func TestReadyz_NotReadyWhileApplyingTheLog(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	f := newFollower(t, leader)
	f.do("GET", "/_tokend/readyz", "").want(t, 200)
	for i := range cluster.MaxApplyLag + 1 {
		leader.propose(&fsm.SetNode{NodeID: "n9", HTTPAddr: "127.0.0.1:" + strconv.Itoa(9200+i)})
	}
	f.do("GET", "/_tokend/readyz", "").wantError(t, 503, "status_exception", "not ready: applying committed log entries")
	if err := f.node.WaitApplied(t.Context(), leader.node.logLen()); err != nil {
		t.Fatal(err)
	}
	f.do("GET", "/_tokend/readyz", "").want(t, 200)
}
