package fsm

import (
	"reflect"
	"testing"
)

// byTokenCases: A and R are alice's pair; each case invalidates one token.
var byTokenCases = []struct {
	name      string
	by        InvalidateBy
	token     string
	twice     bool
	want      Result
	wantA     bool // access token A invalidated afterwards
	wantR     bool // refresh token R invalidated afterwards
	unchanged bool
}{
	{"access token", ByAccessToken, "A", false, Result{Invalidated: 1, User: "alice", Realm: NativeRealm}, true, false, false},
	{"access token again", ByAccessToken, "A", true, Result{Previously: 1}, true, false, false},
	{"refresh token", ByRefreshToken, "R", false, Result{Invalidated: 1, User: "alice", Realm: NativeRealm}, false, true, false},
	{"refresh token again", ByRefreshToken, "R", true, Result{Previously: 1}, false, true, false},
	{"unknown access token", ByAccessToken, "nope", false, Result{Status: NotFound}, false, false, true},
	{"unknown refresh token", ByRefreshToken, "nope", false, Result{Status: NotFound}, false, false, true},
	{"refresh digest given as access token", ByAccessToken, "R", false, Result{Status: NotFound}, false, false, true},
	{"access digest given as refresh token", ByRefreshToken, "A", false, Result{Status: NotFound}, false, false, true},
	{"unknown selector", InvalidateBy(99), "A", false, Result{Status: NotFound}, false, false, true},
	{"zero selector", 0, "A", false, Result{Status: NotFound}, false, false, true},
}

func TestInvalidate_ByTokenTouchesThatTokenOnly(t *testing.T) {
	for _, tt := range byTokenCases {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.issue("A", "R", "alice", "", t0)
			c := &Invalidate{Meta: Meta{Time: t0 + 1}, By: tt.by, Token: dg(tt.token)}
			if tt.twice {
				h.apply(c)
			}
			before := contents(h.f)
			if got := h.apply(c); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("result = %+v, want %+v", got, tt.want)
			}
			if tt.unchanged {
				assertUnchanged(t, h.f, before)
			}
			if got := h.access("A").Invalidated; got != tt.wantA {
				t.Errorf("access invalidated = %v, want %v", got, tt.wantA)
			}
			if got := h.refresh("R").Invalidated; got != tt.wantR {
				t.Errorf("refresh invalidated = %v, want %v", got, tt.wantR)
			}
		})
	}
}

// byOwnerCases: see issueOwnerTokens for the tokens they run against.
var byOwnerCases = []struct {
	name  string
	cmd   Invalidate
	want  Result
	wantI []string // tokens invalidated afterwards
}{
	{"user in every realm", Invalidate{By: ByUser, Username: "alice"},
		Result{Invalidated: 4, Previously: 1}, []string{"a1", "r1", "a2", "a3", "r3"}},
	{"user in one realm", Invalidate{By: ByUser, Username: "alice", Realm: "default_native"},
		Result{Invalidated: 2, Previously: 1}, []string{"a1", "r1", "a2"}},
	{"user in the other realm", Invalidate{By: ByUser, Username: "alice", Realm: "reserved"},
		Result{Invalidated: 2}, []string{"a2", "a3", "r3"}},
	{"realm", Invalidate{By: ByRealm, Realm: "reserved"},
		Result{Invalidated: 4}, []string{"a2", "a3", "r3", "e1", "er1"}},
	{"unknown user", Invalidate{By: ByUser, Username: "nobody"}, Result{}, []string{"a2"}},
	{"user in an unknown realm", Invalidate{By: ByUser, Username: "alice", Realm: "ldap1"}, Result{}, []string{"a2"}},
	{"unknown realm", Invalidate{By: ByRealm, Realm: "ldap1"}, Result{}, []string{"a2"}},
	{"empty realm", Invalidate{By: ByRealm}, Result{}, []string{"a2"}},
}

func TestInvalidate_ByUserAndRealmCountsEveryMatchingToken(t *testing.T) {
	all := []string{"a1", "r1", "a2", "a3", "r3", "b1", "br1", "e1", "er1"}
	for _, tt := range byOwnerCases {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			issueOwnerTokens(h)
			c := tt.cmd
			c.Time = t0 + 1
			if got := h.apply(&c); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("result = %+v, want %+v", got, tt.want)
			}
			want := map[string]bool{}
			for _, s := range tt.wantI {
				want[s] = true
			}
			for _, s := range all {
				if got := tokenInvalidated(h, s); got != want[s] {
					t.Errorf("%s invalidated = %v, want %v", s, got, want[s])
				}
			}
		})
	}
}

// tokenInvalidated reports whether the access or refresh token s is
// invalidated.
func tokenInvalidated(h *harness, s string) bool {
	if a, ok := h.f.AccessToken(dg(s)); ok {
		return a.Invalidated
	}
	return h.refresh(s).Invalidated
}

// issueOwnerTokens issues, in the reserved realm, alice's pair a3/r3 (while
// she is a reserved user) and elastic's pair e1/er1; then, alice moved to the
// native realm, her native pair a1/r1 and access token a2 (invalidated), and
// bob's native pair b1/br1. Moving an enabled user to another realm leaves
// the tokens of the old realm live: that is how one name holds tokens in two
// realms now that tokens are only issued to an existing user of the realm.
func issueOwnerTokens(h *harness) {
	h.t.Helper()
	for _, name := range []string{"alice", "elastic"} {
		h.mustOK(&PutUser{Meta: Meta{Time: t0}, User: User{Username: name, Enabled: true, Realm: ReservedRealm}})
	}
	for _, c := range []*CreateToken{
		{Access: dg("a3"), Refresh: dg("r3"), User: "alice"},
		{Access: dg("e1"), Refresh: dg("er1"), User: "elastic"},
	} {
		c.Time, c.Realm, c.Lifetime = t0, ReservedRealm, lifetime
		h.mustOK(c)
	}
	h.addUser("alice") // now native and still enabled: a3/r3 stay live
	h.issue("a1", "r1", "alice", "", t0)
	h.issue("a2", "", "alice", "", t0)
	h.issue("b1", "br1", "bob", "", t0)
	h.mustOK(&Invalidate{Meta: Meta{Time: t0}, By: ByAccessToken, Token: dg("a2")})
	if tokenInvalidated(h, "a3") || tokenInvalidated(h, "r3") {
		h.t.Fatal("moving alice to the native realm invalidated her reserved tokens")
	}
}
