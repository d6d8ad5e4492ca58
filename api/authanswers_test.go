package api

import (
	"encoding/json"
	"testing"

	"github.com/tokend/tokend/fsm"
)

// wantAuthAnswer checks that r is the _authenticate answer for the user
// named name as stored now, byte for byte what encoding/json gives.
func wantAuthAnswer(t *testing.T, n *testNode, r resp, name string, realm fsm.Realm, authType string) {
	t.Helper()
	u, ok := n.srv.state.User(name)
	if !ok {
		t.Fatalf("no user %s", name)
	}
	want, err := json.Marshal(authView(u, realm, authType))
	if err != nil {
		t.Fatal(err)
	}
	r.want(t, 200)
	if string(r.body) != string(want) {
		t.Fatalf("answer\n got %s\nwant %s", r.body, want)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
		t.Fatalf("Content-Type %q", ct)
	}
}

func TestAuthenticate_AnswerFollowsChangesToTheUser(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	access, _ := n.issueDirect("alice", fsm.NativeRealm, 0)
	basic := basicAuth("alice", "alice-pw")
	for range 2 { // the second answer comes from the cache
		wantAuthAnswer(t, n, n.do("GET", "/_security/_authenticate", "", bearer(access)...), "alice", fsm.NativeRealm, authTypeToken)
		wantAuthAnswer(t, n, n.do("GET", "/_security/_authenticate", "", basic...), "alice", fsm.NativeRealm, authTypeRealm)
	}
	changes := []fsm.User{
		{Username: "alice", Roles: []string{"monitoring_user"}, Enabled: true},
		{Username: "alice", Roles: []string{"monitoring_user"}, FullName: "Alice <A> & Co", Email: "alice@example.com", Enabled: true},
		{Username: "alice", Roles: []string{"monitoring_user"}, FullName: "Alice <A> & Co", Metadata: []byte(`{"team":"blue"}`), Enabled: true},
		{Username: "alice", Roles: []string{"token_manager"}, Metadata: []byte(`{"team":"red"}`), Enabled: true},
	}
	for _, u := range changes {
		n.propose(&fsm.PutUser{User: u}) // a nil hash keeps the password
		m := n.do("GET", "/_security/_authenticate", "", bearer(access)...).json(t)
		if roles := m["roles"].([]any); len(roles) != 1 || roles[0] != u.Roles[0] {
			t.Fatalf("after changing the user to %+v: roles %v", u, m["roles"])
		}
		wantAuthAnswer(t, n, n.do("GET", "/_security/_authenticate", "", bearer(access)...), "alice", fsm.NativeRealm, authTypeToken)
		wantAuthAnswer(t, n, n.do("GET", "/_security/_authenticate", "", basic...), "alice", fsm.NativeRealm, authTypeRealm)
	}
}

func TestAuthenticate_PrettyAnswerIsIndented(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	access, _ := n.issueDirect("elastic", fsm.ReservedRealm, 0)
	n.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200) // fills the cache
	u, _ := n.srv.state.User("elastic")
	want, err := json.MarshalIndent(authView(u, fsm.ReservedRealm, authTypeToken), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	r := n.do("GET", "/_security/_authenticate?pretty", "", bearer(access)...).want(t, 200)
	if string(r.body) != string(want)+"\n" {
		t.Fatalf("pretty answer\n got %s\nwant %s", r.body, want)
	}
	wantAuthAnswer(t, n, n.do("GET", "/_security/_authenticate?pretty=false", "", bearer(access)...), "elastic", fsm.ReservedRealm, authTypeToken)
}
