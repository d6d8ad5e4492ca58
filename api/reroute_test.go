package api

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/cluster"
)

// threeNodes starts a leader n1 and followers n2 and n3, caught up.
func threeNodes(t *testing.T) (leader, follower, other *testNode) {
	t.Helper()
	leader = newLeader(t, nil)
	follower = newFollowerNamed(t, leader, "n2")
	other = newFollowerNamed(t, leader, "n3")
	return leader, follower, other
}

// elect makes n the leader that every node of all follows; n first
// applies the log, as an elected Raft leader holds every committed entry.
func elect(n *testNode, all ...*testNode) {
	_ = n.node.WaitApplied(context.Background(), n.node.logLen())
	for _, m := range all {
		m.node.set(func(f *fakeNode) { f.leader, f.leaderID = m == n, n.node.id })
	}
}

// holdProposals makes n a leader that can no longer commit, as when it is
// cut off from the others or paused: its proposals wait until release,
// and then commit whoever leads by then. The test's end releases them.
func holdProposals(t *testing.T, n *testNode) (release func()) {
	hold := make(chan struct{})
	n.node.set(func(f *fakeNode) { f.hold = hold })
	var once sync.Once
	release = func() { once.Do(func() { close(hold) }) }
	t.Cleanup(release)
	return release
}

// held is how many proposals n has held.
func held(n *testNode) int {
	n.node.mu.Lock()
	defer n.node.mu.Unlock()
	return n.node.held
}

// lastProposal is the last command n proposed.
func lastProposal(t *testing.T, n *testNode) fsm.Command {
	t.Helper()
	n.node.mu.Lock()
	defer n.node.mu.Unlock()
	if len(n.node.proposals) == 0 {
		t.Fatalf("%s proposed nothing", n.node.id)
	}
	return n.node.proposals[len(n.node.proposals)-1]
}

// async sends a request to n from another goroutine; the answer (or the
// transport error, as status 0) arrives on the returned channel.
func async(n *testNode, method, path, body string, hdr ...string) <-chan resp {
	out := make(chan resp, 1)
	go func() {
		req, _ := http.NewRequest(method, n.ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- resp{body: []byte(err.Error())}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		out <- resp{status: res.StatusCode, header: res.Header, body: b}
	}()
	return out
}

// catchUp applies the whole shared log on n.
func catchUp(t *testing.T, n *testNode) {
	t.Helper()
	if err := n.node.WaitApplied(context.Background(), n.node.logLen()); err != nil {
		t.Fatal(err)
	}
}

// committedAfterRelease releases n's held proposals and waits until the
// one it held has been appended to the log (the old leader's entry
// committing after all).
func committedAfterRelease(t *testing.T, n *testNode, release func()) {
	t.Helper()
	before := n.node.logLen()
	release()
	eventually(t, 2*time.Second, "the held proposal is appended", func() bool { return n.node.logLen() > before })
}

func TestReroute_GrantThroughAFollowerMovesToTheNewLeaderWithTheSameID(t *testing.T) {
	t.Parallel()
	leader, follower, other := threeNodes(t)
	catchUp(t, other)
	tokensBefore := other.node.state.Counts().AccessTokens
	release := holdProposals(t, leader)

	answer := async(follower, "POST", "/_security/oauth2/token", `{"grant_type":"password","username":"alice","password":"alice-pw"}`)
	eventually(t, 2*time.Second, "the grant reached the leader", func() bool { return held(leader) > 0 })
	elected := time.Now()
	elect(other, leader, follower, other)
	r := (<-answer).want(t, 200)
	t.Logf("answered %v after the new leader was known", time.Since(elected).Round(time.Millisecond))
	access := r.json(t)["access_token"].(string)
	other.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200)

	// The old leader's entry commits too: the state machine applies the
	// grant once.
	committedAfterRelease(t, leader, release)
	catchUp(t, other)
	if got := other.node.state.Counts().AccessTokens - tokensBefore; got != 1 {
		t.Fatalf("one grant created %d access tokens", got)
	}
	if a, b := lastProposal(t, leader).Header().ID, lastProposal(t, other).Header().ID; a != b {
		t.Fatalf("the new leader proposed request ID %x, the old one %x", b, a)
	}
	other.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200)
}

func TestReroute_InvalidationThroughAFollowerMovesToTheNewLeaderWithTheSameID(t *testing.T) {
	t.Parallel()
	leader, follower, other := threeNodes(t)
	access, _ := leader.issueDirect("alice", fsm.NativeRealm, 0)
	release := holdProposals(t, leader)

	answer := async(follower, "DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, access))
	eventually(t, 2*time.Second, "the invalidation reached the leader", func() bool { return held(leader) > 0 })
	elect(other, leader, follower, other)
	r := (<-answer).want(t, 200)
	if string(r.body) != `{"invalidated_tokens":1,"previously_invalidated_tokens":0,"error_count":0}` {
		t.Fatalf("invalidation answered %s", r.body)
	}
	if r.header.Get(headerServedBy) != "n3" {
		t.Fatalf("served by %q, want the new leader n3", r.header.Get(headerServedBy))
	}
	other.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 401)

	committedAfterRelease(t, leader, release)
	catchUp(t, other)
	old, now := lastProposal(t, leader), lastProposal(t, other)
	if _, ok := old.(*fsm.Invalidate); !ok || old.Header().ID != now.Header().ID {
		t.Fatalf("the old leader proposed %T %x, the new one %T %x: not one request", old, old.Header().ID, now, now.Header().ID)
	}
}

func TestReroute_RefreshThroughAFollowerMovesToTheNewLeaderAndIsSpentOnce(t *testing.T) {
	t.Parallel()
	leader, follower, other := threeNodes(t)
	_, refresh := leader.issueDirect("alice", fsm.NativeRealm, 0)
	release := holdProposals(t, leader)

	body := fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh)
	answer := async(follower, "POST", "/_security/oauth2/token", body)
	eventually(t, 2*time.Second, "the refresh reached the leader", func() bool { return held(leader) > 0 })
	elect(other, leader, follower, other)
	got := (<-answer).want(t, 200).json(t)

	// The old leader's spend, with another pair, commits after the new
	// leader's: it is the same request, so it changes nothing.
	committedAfterRelease(t, leader, release)
	catchUp(t, other)
	other.do("GET", "/_security/_authenticate", "", bearer(got["access_token"].(string))...).want(t, 200)
	again := other.do("POST", "/_security/oauth2/token", body).want(t, 200).json(t)
	if again["access_token"] != got["access_token"] || again["refresh_token"] != got["refresh_token"] {
		t.Fatalf("a retry within the window got another pair than the client's: %v, want %v", again, got)
	}
}

func TestReroute_RefreshSentTwiceWithOneIDAnswersThePairOfTheFirst(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	_, refresh := leader.issueDirect("alice", fsm.NativeRealm, 0)
	id := cluster.NewRequestID()
	body := fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh)
	send := func() []string {
		return append(leader.proofFor("n2", "POST", "/_security/oauth2/token", body), headerRequestID, hex.EncodeToString(id[:]))
	}

	// A follower whose first send committed, but whose answer was lost,
	// sends the request again to the (new) leader.
	first := leader.do("POST", "/_security/oauth2/token", body, send()...).want(t, 200).json(t)
	second := leader.do("POST", "/_security/oauth2/token", body, send()...).want(t, 200).json(t)
	if second["access_token"] != first["access_token"] || second["refresh_token"] != first["refresh_token"] {
		t.Fatalf("the same request answered two pairs: %v and %v", first, second)
	}
	leader.do("GET", "/_security/_authenticate", "", bearer(second["access_token"].(string))...).want(t, 200)
}

func TestReroute_ClientCannotChooseTheRequestID(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	access, _ := leader.issueDirect("alice", fsm.NativeRealm, 0)
	body := fmt.Sprintf(`{"token":%q}`, access)
	chosen := strings.Repeat("ab", 16)
	leader.do("DELETE", "/_security/oauth2/token", body, headerRequestID, chosen).
		wantError(t, 403, "security_exception", "header [X-Tokend-Request-ID] is reserved to cluster nodes")
	leader.do("POST", "/_security/oauth2/token", `{"grant_type":"password","username":"alice","password":"alice-pw"}`,
		headerRequestID, chosen).
		wantError(t, 403, "security_exception", "header [X-Tokend-Request-ID] is reserved to cluster nodes")
	fromNode := append(leader.proofFor("n2", "DELETE", "/_security/oauth2/token", body), headerRequestID, "not-hex")
	leader.do("DELETE", "/_security/oauth2/token", body, fromNode...).
		wantError(t, 400, "illegal_argument_exception", "header [X-Tokend-Request-ID] does not hold a request ID")
}

// intercept puts f in front of n's API; it must be called before n serves
// any request.
func intercept(n *testNode, f func(w http.ResponseWriter, r *http.Request, next http.Handler)) {
	next := n.ts.Config.Handler
	n.ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f(w, r, next) })
}

func TestReroute_ConnectionLostToTheLeaderWaitsForTheNextOne(t *testing.T) {
	t.Parallel()
	leader, follower, other := threeNodes(t)
	intercept(leader, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		// The leader's process dies with the request: the connection is
		// cut without an answer, and the others elect n3.
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		elect(other, leader, follower, other)
	})
	follower.do("POST", "/_security/oauth2/token", `{"grant_type":"password","username":"alice","password":"alice-pw"}`).want(t, 200)
}

func TestReroute_DeposedLeaderSendsTheWriteOnToTheNextOne(t *testing.T) {
	t.Parallel()
	leader, follower, other := threeNodes(t)
	access, _ := leader.issueDirect("alice", fsm.NativeRealm, 0)
	// n1 knows it lost leadership; n2 does not know yet.
	leader.node.set(func(f *fakeNode) { f.leader, f.leaderID = false, "" })
	var answered sync.Once
	intercept(leader, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		next.ServeHTTP(w, r) // 503 not_master_exception
		answered.Do(func() { elect(other, follower, other) })
	})
	r := follower.do("DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, access)).want(t, 200)
	if r.header.Get(headerServedBy) != "n3" {
		t.Fatalf("served by %q, want n3", r.header.Get(headerServedBy))
	}
}

func TestReroute_FollowerElectedMidWriteProposesItItself(t *testing.T) {
	t.Parallel()
	leader, follower, _ := threeNodes(t)
	access, _ := leader.issueDirect("alice", fsm.NativeRealm, 0)
	leader.node.set(func(f *fakeNode) { f.leader, f.leaderID = false, "" })
	var answered sync.Once
	intercept(leader, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		next.ServeHTTP(w, r) // 503 not_master_exception
		answered.Do(func() { elect(follower, leader, follower) })
	})
	r := follower.do("DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, access)).want(t, 200)
	if string(r.body) != `{"invalidated_tokens":1,"previously_invalidated_tokens":0,"error_count":0}` {
		t.Fatalf("invalidation answered %s", r.body)
	}
	if _, ok := lastProposal(t, follower).(*fsm.Invalidate); !ok {
		t.Fatal("the elected follower did not propose the invalidation")
	}
}
