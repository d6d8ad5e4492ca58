package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/cluster"
)

// These tests run the routes against fakes of the interfaces api declares
// for the coordination (fakecoordination_test.go), not against package
// cluster over a fake node as the others do: what a route answers depends
// only on what those interfaces report.

func TestFakedWrites_LostLeaderIsThe503TheClientsRetry(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err    error
		reason string
	}{
		{&cluster.NoLeaderError{}, "no leader is elected"},
		{&cluster.LeaderUnreachableError{Leader: "n1", Err: errors.New("connection refused")}, "leader [n1] is unreachable"},
	} {
		n := newFakedLeader(t, func(co *coordination) { co.writes.(*fakeWrites).err = c.err })
		for _, r := range []resp{
			n.do("PUT", "/_security/user/bob", `{"password":"bob-password","roles":[]}`, basicAuth("elastic", "elastic-pw")...),
			n.do("POST", "/_security/oauth2/token", `{"grant_type":"client_credentials"}`, basicAuth("alice", "alice-pw")...),
		} {
			r.wantError(t, http.StatusServiceUnavailable, "master_not_discovered_exception", c.reason)
			if got := r.header.Get("Retry-After"); got != "1" {
				t.Fatalf("%T: Retry-After %q, want 1", c.err, got)
			}
		}
		if _, ok := n.srv.state.User("bob"); ok {
			t.Fatalf("%T: a refused write changed the state", c.err)
		}
	}
}

func TestFakedReads_AStaleNodeRefusesCredentialsItCannotVouchFor(t *testing.T) {
	t.Parallel()
	reads := &fakeReads{fresh: cluster.ErrLostContact}
	n := newFakedLeader(t, func(co *coordination) { co.reads = reads })
	access, _ := n.issueDirect("alice", fsm.NativeRealm, 0)
	for _, auth := range [][]string{basicAuth("alice", "alice-pw"), bearer(access)} {
		r := n.do("GET", "/_security/_authenticate", "", auth...)
		r.wantError(t, http.StatusServiceUnavailable, "status_exception", "this node has lost contact with the leader")
		if got := r.header.Get("Retry-After"); got != "1" {
			t.Fatalf("Retry-After %q, want 1", got)
		}
	}
	// Without credentials there is nothing to vouch for: the answer is
	// the 401 that asks for them.
	n.do("GET", "/_security/_authenticate", "").wantError(t, http.StatusUnauthorized, "security_exception",
		"missing authentication credentials for REST request [/_security/_authenticate]")
}

func TestFakedReads_AFreshNodeAuthenticates(t *testing.T) {
	t.Parallel()
	n := newFakedLeader(t, nil)
	access, _ := n.issueDirect("alice", fsm.NativeRealm, 0)
	for _, auth := range [][]string{basicAuth("alice", "alice-pw"), bearer(access)} {
		if got := n.do("GET", "/_security/_authenticate", "", auth...).want(t, http.StatusOK).json(t)["username"]; got != "alice" {
			t.Fatalf("username %v", got)
		}
	}
}

func TestFakedRevocations_AnInvalidationIsAnsweredOnlyOnceEveryNodeHonoursIt(t *testing.T) {
	t.Parallel()
	held := newFakeRevocations(true)
	n := newFakedLeader(t, func(co *coordination) { co.revocations = held })
	access, _ := n.issueDirect("alice", fsm.NativeRealm, 0)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "DELETE", n.ts.URL+"/_security/oauth2/token",
		strings.NewReader(`{"token":"`+access+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			res.Body.Close()
		}
		t.Fatalf("answered before every node honours the revocation: %v", err)
	}
	select {
	case index := <-held.awaited:
		if want := n.node.logLen(); index != want {
			t.Fatalf("waited for index %d, want the invalidation's %d", index, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the invalidation never waited for the revocation")
	}
	select {
	case <-held.released:
	case <-time.After(5 * time.Second):
		t.Fatal("the wait outlived the request")
	}
	d, _ := credentials.ParseToken(credentials.AccessPrefix, access)
	if rec, ok := n.srv.state.AccessToken(d); !ok || !rec.Invalidated {
		t.Fatal("the invalidation was not committed while its answer was held")
	}
}

func TestFakedRevocations_AnInvalidationAnswersOnceTheRevocationHolds(t *testing.T) {
	t.Parallel()
	revocations := newFakeRevocations(false)
	n := newFakedLeader(t, func(co *coordination) { co.revocations = revocations })
	access, _ := n.issueDirect("alice", fsm.NativeRealm, 0)
	r := n.do("DELETE", "/_security/oauth2/token", `{"token":"`+access+`"}`).want(t, http.StatusOK)
	if string(r.body) != `{"invalidated_tokens":1,"previously_invalidated_tokens":0,"error_count":0}` {
		t.Fatalf("body %s", r.body)
	}
	if index := <-revocations.awaited; index != n.node.logLen() {
		t.Fatalf("waited for index %d, want the invalidation's %d", index, n.node.logLen())
	}
	n.do("GET", "/_security/_authenticate", "", bearer(access)...).
		wantError(t, http.StatusUnauthorized, "security_exception", "token expired")
}
