package fsm

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/tokend/tokend/snapshot"
)

func TestPutUser_CreatesThenReplaces(t *testing.T) {
	h := newHarness(t)
	u := User{Username: "alice", Hash: []byte("h1"), Roles: []string{"viewer"}, Enabled: true, Realm: NativeRealm}
	if r := h.apply(&PutUser{Meta: Meta{Time: t0}, User: u}); r.Status != OK || !r.Created {
		t.Fatalf("first put = %+v, want created", r)
	}
	u.Roles, u.Hash = []string{"admin"}, []byte("h2")
	if r := h.apply(&PutUser{Meta: Meta{Time: t0}, User: u}); r.Status != OK || r.Created {
		t.Fatalf("second put = %+v, want not created", r)
	}
	if got, _ := h.f.User("alice"); !reflect.DeepEqual(got, u) {
		t.Fatalf("user = %+v, want %+v", got, u)
	}
}

func TestPutUser_NilHashKeepsExistingHash(t *testing.T) {
	tests := []struct {
		name     string
		hash     []byte
		wantHash string
	}{
		{"nil hash keeps the old one", nil, "hash-alice"},
		{"new hash replaces it", []byte("new"), "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.addUser("alice")
			h.mustOK(&PutUser{Meta: Meta{Time: t0}, User: User{Username: "alice", Hash: tt.hash, FullName: "A", Enabled: true}})
			u, _ := h.f.User("alice")
			if string(u.Hash) != tt.wantHash || u.FullName != "A" {
				t.Fatalf("user = %+v, want hash %q", u, tt.wantHash)
			}
		})
	}
}

func TestPutUser_ZeroRealmMeansNative(t *testing.T) {
	h := newHarness(t)
	h.mustOK(&PutUser{Meta: Meta{Time: t0}, User: User{Username: "alice", Enabled: true}})
	if u, _ := h.f.User("alice"); u.Realm != NativeRealm {
		t.Fatalf("realm = %+v, want native", u.Realm)
	}
	reserved := User{Username: "elastic", Enabled: true, Realm: ReservedRealm}
	h.mustOK(&PutUser{Meta: Meta{Time: t0}, User: reserved})
	if u, _ := h.f.User("elastic"); u.Realm != ReservedRealm {
		t.Fatalf("realm = %+v, want reserved", u.Realm)
	}
}

// userChangeCases run against alice's tokens a1/r1 and a2 (invalidated),
// bob's b1/br1 and e1, issued to alice in the reserved realm before she moved
// to the native realm.
var userChangeCases = []struct {
	name       string
	enabled    bool // user state before the command
	cmd        Command
	want       Result
	wantTokens bool // alice's tokens invalidated afterwards (disabling her beforehand invalidates them)
}{
	{"put disabled over enabled", true, &PutUser{User: User{Username: "alice"}}, Result{Invalidated: 2, Previously: 1}, true},
	{"put enabled over enabled", true, &PutUser{User: User{Username: "alice", Enabled: true}}, Result{}, false},
	{"put disabled over disabled", false, &PutUser{User: User{Username: "alice"}}, Result{}, true},
	{"set disabled", true, &SetEnabled{Username: "alice"}, Result{Invalidated: 2, Previously: 1}, true},
	{"set enabled", true, &SetEnabled{Username: "alice", Enabled: true}, Result{}, false},
	{"set enabled does not revive", false, &SetEnabled{Username: "alice", Enabled: true}, Result{}, true},
	{"delete", true, &DeleteUser{Username: "alice"}, Result{Invalidated: 2, Previously: 1}, true},
	{"set password keeps tokens", true, &SetPassword{Username: "alice", Hash: []byte("x")}, Result{}, false},
}

func TestUserChanges_InvalidateTokensWhenDisablingOrDeleting(t *testing.T) {
	for _, tt := range userChangeCases {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			// Same name in another realm: a token issued while alice was a
			// reserved user stays live when she moves, enabled, to the
			// native realm.
			h.mustOK(&PutUser{Meta: Meta{Time: t0}, User: User{Username: "alice", Enabled: true, Realm: ReservedRealm}})
			h.mustOK(&CreateToken{Meta: Meta{Time: t0}, Access: dg("e1"), User: "alice", Realm: ReservedRealm, Lifetime: lifetime})
			h.addUser("alice")
			h.addUser("bob")
			h.issue("a1", "r1", "alice", "", t0)
			h.issue("a2", "", "alice", "", t0)
			h.issue("b1", "br1", "bob", "", t0)
			h.mustOK(&Invalidate{Meta: Meta{Time: t0}, By: ByAccessToken, Token: dg("a2")})
			if tokenInvalidated(h, "e1") {
				t.Fatal("moving alice to the native realm invalidated e1")
			}
			if !tt.enabled {
				h.mustOK(&PutUser{Meta: Meta{Time: t0}, User: User{Username: "alice"}})
			}
			tt.cmd.Header().Time = t0 + 1
			if got := h.apply(tt.cmd); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("result = %+v, want %+v", got, tt.want)
			}
			for _, s := range []string{"a1", "r1"} {
				if got := tokenInvalidated(h, s); got != tt.wantTokens {
					t.Errorf("%s invalidated = %v, want %v", s, got, tt.wantTokens)
				}
			}
			for _, s := range []string{"b1", "br1", "e1"} { // another user; same name in another realm
				if tokenInvalidated(h, s) {
					t.Errorf("%s invalidated", s)
				}
			}
		})
	}
}

func TestUserCommands_UnknownUserIsNotFound(t *testing.T) {
	for _, c := range []Command{
		&DeleteUser{Username: "ghost"},
		&SetPassword{Username: "ghost", Hash: []byte("x")},
		&SetEnabled{Username: "ghost", Enabled: true},
		&SetEnabled{Username: "ghost"},
	} {
		h := newHarness(t)
		restoreOrphanTokens(h)
		h.issue("b", "br", "alice", "", t0)
		before := contents(h.f)
		if r := h.apply(c); r.Status != NotFound {
			t.Errorf("%T: status %v, want not_found", c, r.Status)
		}
		assertUnchanged(t, h.f, before)
	}
}

// restoreOrphanTokens restores into h a snapshot holding the enabled native
// user alice and a live pair a/r of "ghost", a name no user has. Apply no
// longer issues tokens to an unknown owner (and deleting a user invalidates
// its tokens), but a snapshot written before that rule can hold such tokens.
func restoreOrphanTokens(h *harness) {
	h.t.Helper()
	records := []struct {
		kind snapshot.Kind
		body any
	}{
		{kindUser, User{Username: "alice", Hash: []byte("hash-alice"), Enabled: true, Realm: NativeRealm}},
		{kindAccess, accessRecord{Digest: dg("a"), Token: AccessToken{User: "ghost", Realm: NativeRealm,
			Created: t0, Expires: t0 + lifetime, Family: dg("r")}}},
		{kindRefresh, refreshRecord{Digest: dg("r"), Token: RefreshToken{User: "ghost", Realm: NativeRealm,
			Created: t0, Family: dg("r")}}},
	}
	var b bytes.Buffer
	w, err := snapshot.NewWriter(&b, snapshot.Header{Index: h.index, Records: uint64(len(records))})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range records {
		if err := w.Write(r.kind, r.body); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		h.t.Fatal(err)
	}
	if err := h.f.Restore(&b); err != nil {
		h.t.Fatalf("Restore: %v", err)
	}
	if a := h.access("a"); a.User != "ghost" || a.Invalidated {
		h.t.Fatalf("ghost's access token = %+v", a)
	}
}

func TestDeleteUser_RemovesUser(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice")
	h.mustOK(&DeleteUser{Meta: Meta{Time: t0}, Username: "alice"})
	if _, ok := h.f.User("alice"); ok {
		t.Fatal("user still there")
	}
}

func TestSetPassword_ReplacesHash(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice")
	h.mustOK(&SetPassword{Meta: Meta{Time: t0}, Username: "alice", Hash: []byte("new")})
	if u, _ := h.f.User("alice"); string(u.Hash) != "new" || !u.Enabled {
		t.Fatalf("user = %+v", u)
	}
}

func TestSetNode_RecordsAndForgetsAddresses(t *testing.T) {
	h := newHarness(t)
	h.mustOK(&SetNode{NodeID: "n1", HTTPAddr: "10.0.0.1:9200"})
	h.mustOK(&SetNode{NodeID: "n2", HTTPAddr: "10.0.0.2:9200"})
	h.mustOK(&SetNode{NodeID: "n1", HTTPAddr: "10.0.0.9:9200"})
	h.mustOK(&SetNode{NodeID: "n2"})
	h.mustOK(&SetNode{NodeID: "never-seen"})
	if got := h.f.Nodes(); !reflect.DeepEqual(got, map[string]string{"n1": "10.0.0.9:9200"}) {
		t.Fatalf("nodes = %v", got)
	}
	if a, ok := h.f.NodeAddr("n1"); !ok || a != "10.0.0.9:9200" {
		t.Fatalf("NodeAddr(n1) = %q, %v", a, ok)
	}
	if _, ok := h.f.NodeAddr("n2"); ok {
		t.Fatal("n2 not forgotten")
	}
}

func TestInitCluster_SetsIdentityOnce(t *testing.T) {
	h := newHarness(t)
	if h.f.ClusterUUID() != "" {
		t.Fatal("new FSM has a cluster UUID")
	}
	h.mustOK(&InitCluster{UUID: ""})
	h.mustOK(&InitCluster{UUID: "first"})
	h.mustOK(&InitCluster{UUID: "second"})
	if got := h.f.ClusterUUID(); got != "first" {
		t.Fatalf("cluster UUID = %q, want first", got)
	}
}
