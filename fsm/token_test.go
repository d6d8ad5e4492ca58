package fsm

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
)

func TestCreateToken_StoresAccessAndRefreshRecords(t *testing.T) {
	h := newHarness(t)
	h.issue("A", "R", "alice", "alice", t0)
	want := AccessToken{User: "alice", Realm: NativeRealm, Created: t0, Expires: t0 + lifetime, Family: dg("R")}
	if got := h.access("A"); got != want {
		t.Fatalf("access = %+v, want %+v", got, want)
	}
	r := h.refresh("R")
	if r.User != "alice" || r.Realm != NativeRealm || r.Created != t0 || r.Client != "alice" ||
		r.Family != dg("R") || r.Generation != 0 || r.UsedAt != 0 || r.Invalidated {
		t.Fatalf("refresh = %+v", r)
	}
	if r.Expires() != t0+RefreshLifetime {
		t.Fatalf("refresh expires %d, want %d", r.Expires(), t0+RefreshLifetime)
	}
}

func TestCreateToken_AccessOnlyHasNoFamilyAndNoRefreshRecord(t *testing.T) {
	h := newHarness(t)
	h.issue("A", "", "alice", "alice", t0)
	if a := h.access("A"); !a.Family.IsZero() {
		t.Fatalf("access-only token has family %x", a.Family)
	}
	if c := h.f.Counts(); c.RefreshTokens != 0 || c.AccessTokens != 1 {
		t.Fatalf("counts = %+v", c)
	}
}

func TestCreateToken_ExistingDigestLeavesStateUntouched(t *testing.T) {
	tests := []struct{ name, access, refresh string }{
		{"same access digest", "A", "R2"},
		{"same refresh digest", "A2", "R"},
		{"same pair", "A", "R"},
		{"same access, no refresh", "A", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.issue("A", "R", "alice", "", t0)
			h.addUser("mallory") // a valid owner: only the digest is taken
			before := contents(h.f)
			c := &CreateToken{Meta: Meta{Time: t0 + 1}, Access: dg(tt.access), User: "mallory", Realm: NativeRealm, Lifetime: lifetime}
			if tt.refresh != "" {
				c.Refresh = dg(tt.refresh)
			}
			if r := h.apply(c); r.Status != OK {
				t.Fatalf("status %v, want ok", r.Status)
			}
			assertUnchanged(t, h.f, before)
		})
	}
}

// ownerRefusals: CreateToken for user in realm, after setup, is refused
// because the owner is missing, disabled or of another realm.
var ownerRefusals = []struct {
	name  string
	setup []Command
	user  string
	realm Realm
}{
	{"unknown user", nil, "ghost", NativeRealm},
	{"unknown user, reserved realm", nil, "ghost", ReservedRealm},
	{"user put disabled", []Command{&PutUser{User: User{Username: "alice", Realm: NativeRealm}}}, "alice", NativeRealm},
	{"user set disabled", []Command{
		&PutUser{User: User{Username: "alice", Enabled: true, Realm: NativeRealm}},
		&SetEnabled{Username: "alice"},
	}, "alice", NativeRealm},
	{"native user, reserved realm", []Command{&PutUser{User: User{Username: "alice", Enabled: true, Realm: NativeRealm}}}, "alice", ReservedRealm},
	{"reserved user, native realm", []Command{&PutUser{User: User{Username: "elastic", Enabled: true, Realm: ReservedRealm}}}, "elastic", NativeRealm},
	{"native user, zero realm", []Command{&PutUser{User: User{Username: "alice", Enabled: true}}}, "alice", Realm{}},
	{"native user, unknown realm", []Command{&PutUser{User: User{Username: "alice", Enabled: true}}}, "alice", Realm{Name: "ldap1", Type: "ldap"}},
	{"disabled user of another realm", []Command{&PutUser{User: User{Username: "elastic", Realm: ReservedRealm}}}, "elastic", NativeRealm},
	// A CreateToken proposed before the delete, applied after it.
	{"user deleted", []Command{
		&PutUser{User: User{Username: "alice", Enabled: true, Realm: NativeRealm}},
		&DeleteUser{Username: "alice"},
	}, "alice", NativeRealm},
	{"user deleted after being disabled", []Command{
		&PutUser{User: User{Username: "alice", Realm: NativeRealm}},
		&DeleteUser{Username: "alice"},
	}, "alice", NativeRealm},
}

func TestCreateToken_RefusedUnlessOwnerExistsEnabledAndInRealm(t *testing.T) {
	for _, tt := range ownerRefusals {
		for _, withRefresh := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/refresh %v", tt.name, withRefresh), func(t *testing.T) {
				h := newHarness(t)
				h.issue("B", "BR", "bob", "", t0) // live tokens the refusal must not touch
				for _, c := range tt.setup {
					c.Header().Time = t0
					h.mustOK(c)
				}
				before := contents(h.f)
				c := &CreateToken{Meta: Meta{Time: t0 + 1}, Access: dg("A"), User: tt.user, Realm: tt.realm,
					Lifetime: lifetime, Client: "alice"}
				if withRefresh {
					c.Refresh = dg("R")
				}
				if r := h.apply(c); !reflect.DeepEqual(r, Result{Status: NotFound}) {
					t.Fatalf("result = %+v, want not_found", r)
				}
				assertUnchanged(t, h.f, before)
			})
		}
	}
}

func TestCreateToken_RefusedForDeletedUserIsNotInheritedByTheNextOfTheName(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice")
	h.mustOK(&DeleteUser{Meta: Meta{Time: t0}, Username: "alice"})
	// Proposed while the first alice existed, applied after her deletion.
	stale := &CreateToken{Meta: Meta{Time: t0 + 1}, Access: dg("A"), Refresh: dg("R"), User: "alice",
		Realm: NativeRealm, Lifetime: lifetime}
	if r := h.apply(stale); r.Status != NotFound {
		t.Fatalf("stale CreateToken: status %v, want not_found", r.Status)
	}
	h.addUser("alice") // a new user of the same name
	if _, ok := h.f.AccessToken(dg("A")); ok {
		t.Fatal("the new alice holds the stale access token")
	}
	if _, ok := h.f.RefreshToken(dg("R")); ok {
		t.Fatal("the new alice holds the stale refresh token")
	}
	if r := h.spend("R", "A1", "R1", "", t0+2); r.Status != NotFound {
		t.Fatalf("spending the stale refresh token: status %v, want not_found", r.Status)
	}
	h.issue("A2", "R2", "alice", "", t0+3) // the new alice gets tokens of her own
	if a := h.access("A2"); a.User != "alice" || a.Realm != NativeRealm || a.Invalidated {
		t.Fatalf("new alice's token = %+v", a)
	}
}

func TestRefresh_FirstUseIssuesNextGeneration(t *testing.T) {
	h := newHarness(t)
	h.issue("A0", "R0", "alice", "alice", t0)
	at := t0 + 60_000
	res := h.spend("R0", "A1", "R1", "alice", at)
	if res.Status != OK || res.User != "alice" || res.Realm != NativeRealm || res.Sealed != nil {
		t.Fatalf("result = %+v", res)
	}
	old := h.refresh("R0")
	if old.UsedAt != at || !bytes.Equal(old.Sealed, []byte("sealed:A1/R1")) || old.Invalidated {
		t.Fatalf("spent token = %+v", old)
	}
	wantA := AccessToken{User: "alice", Realm: NativeRealm, Created: at, Expires: at + lifetime, Family: dg("R0"), Generation: 1}
	if a := h.access("A1"); a != wantA {
		t.Fatalf("new access = %+v, want %+v", a, wantA)
	}
	r := h.refresh("R1")
	if r.Created != at || r.Client != "alice" || r.Family != dg("R0") || r.Generation != 1 || r.UsedAt != 0 || r.User != "alice" {
		t.Fatalf("new refresh = %+v", r)
	}
	if a := h.access("A0"); a.Invalidated {
		t.Fatal("refresh invalidated the old access token")
	}
}

func TestRefresh_NewRefreshTokenLives24hFromItsOwnCreation(t *testing.T) {
	h := newHarness(t)
	h.issue("A0", "R0", "alice", "", t0)
	later := t0 + RefreshLifetime - 1 // the last millisecond R0 is usable
	if r := h.spend("R0", "A1", "R1", "", later); r.Status != OK {
		t.Fatalf("spend R0: %v", r.Status)
	}
	if r := h.spend("R1", "A2", "R2", "", later+RefreshLifetime-1); r.Status != OK {
		t.Fatalf("spend R1 23:59:59.999 after its creation: %v", r.Status)
	}
}

// refreshExpiry is when a refresh token issued at t0 stops being usable.
const refreshExpiry = t0 + RefreshLifetime

// rejectionCases: R belongs to alice, created at t0 by client "alice".
var rejectionCases = []struct {
	name   string
	setup  func(h *harness)
	client string
	at     int64
	want   Status
}{
	{"unknown token", nil, "alice", t0, NotFound},
	{"expired at exactly 24h", nil, "alice", refreshExpiry, Expired},
	{"expired and invalidated reports expired", invalidateR, "alice", refreshExpiry, Expired},
	{"expired, invalidated, wrong client, used reports expired", spentAndInvalidated, "bob", refreshExpiry, Expired},
	{"invalidated", invalidateR, "alice", t0 + 1, Invalidated},
	{"invalidated and wrong client reports invalidated", invalidateR, "bob", t0 + 1, Invalidated},
	{"invalidated and used within window reports invalidated", spentAndInvalidated, "alice", t0 + 2, Invalidated},
	{"wrong client", nil, "bob", t0 + 1, WrongClient},
	{"anonymous caller for a client-bound token", nil, "", t0 + 1, WrongClient},
	{"wrong client and used within window reports wrong client", spendR, "bob", t0 + 2, WrongClient},
	{"wrong client and reused reports wrong client", spendR, "bob", t0 + GraceWindow + 10, WrongClient},
	{"used after window", spendR, "alice", t0 + 1 + GraceWindow + 1, Reused},
	{"expired and used reports expired", spendR, "alice", refreshExpiry, Expired},
}

func TestRefresh_RejectionsFollowTheContractOrder(t *testing.T) {
	for _, tt := range rejectionCases {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.issue("A", "R", "alice", "alice", t0)
			if tt.setup != nil {
				tt.setup(h)
			}
			presented := "R"
			if tt.want == NotFound {
				presented = "nope"
			}
			before := contents(h.f)
			res := h.apply(&Refresh{Meta: Meta{Time: tt.at}, Presented: dg(presented), Client: tt.client,
				NewAccess: dg("A9"), NewRefresh: dg("R9"), Sealed: []byte("x"), Lifetime: lifetime})
			if res.Status != tt.want {
				t.Fatalf("status %v, want %v", res.Status, tt.want)
			}
			if res.User != "" || res.Sealed != nil {
				t.Fatalf("rejection carries owner or pair: %+v", res)
			}
			assertUnchanged(t, h.f, before)
		})
	}
}

// spendR spends R at t0+1 by its client.
func spendR(h *harness) {
	h.t.Helper()
	if r := h.spend("R", "A1", "R1", "alice", t0+1); r.Status != OK {
		h.t.Fatalf("spend R: %v", r.Status)
	}
}

// invalidateR invalidates R.
func invalidateR(h *harness) {
	h.mustOK(&Invalidate{Meta: Meta{Time: t0}, By: ByRefreshToken, Token: dg("R")})
}

// spentAndInvalidated spends R, then invalidates it.
func spentAndInvalidated(h *harness) {
	spendR(h)
	invalidateR(h)
}

func TestRefresh_AnyClientMayRefreshATokenCreatedWithoutCredentials(t *testing.T) {
	h := newHarness(t)
	h.issue("A", "R", "alice", "", t0)
	if r := h.spend("R", "A1", "R1", "someone", t0+1); r.Status != OK {
		t.Fatalf("status %v", r.Status)
	}
	if c := h.refresh("R1").Client; c != "" {
		t.Fatalf("new refresh token bound to %q; it keeps the creating client", c)
	}
}

func TestRefresh_NewRefreshTokenKeepsCreatingClient(t *testing.T) {
	h := newHarness(t)
	h.issue("A", "R", "alice", "svc", t0)
	h.spend("R", "A1", "R1", "svc", t0+1)
	if r := h.spend("R1", "A2", "R2", "other", t0+2); r.Status != WrongClient {
		t.Fatalf("status %v, want wrong_client", r.Status)
	}
}

func TestRefresh_SecondUseWithinWindowReturnsSameSealedPair(t *testing.T) {
	tests := []struct {
		name  string
		after int64 // since the first use
		want  Status
	}{
		{"immediately", 0, Retried},
		{"one second later", 1000, Retried},
		{"at exactly the window", GraceWindow, Retried},
		{"one millisecond past the window", GraceWindow + 1, Reused},
		{"an hour later", 3600_000, Reused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.issue("A", "R", "alice", "alice", t0)
			used := t0 + 5000
			h.spend("R", "A1", "R1", "alice", used)
			before := contents(h.f)
			res := h.apply(&Refresh{Meta: Meta{Time: used + tt.after}, Presented: dg("R"), Client: "alice",
				NewAccess: dg("A2"), NewRefresh: dg("R2"), Sealed: []byte("other pair"), Lifetime: lifetime})
			if res.Status != tt.want {
				t.Fatalf("status %v, want %v", res.Status, tt.want)
			}
			if tt.want == Retried {
				if string(res.Sealed) != "sealed:A1/R1" || res.User != "alice" || res.Realm != NativeRealm {
					t.Fatalf("retry result = %+v, want the first pair and owner", res)
				}
			} else if res.Sealed != nil || res.User != "" {
				t.Fatalf("reuse result carries the pair or owner: %+v", res)
			}
			assertUnchanged(t, h.f, before) // RevokeOnReplay is false
		})
	}
}

// chain issues R0 and refreshes it three times: R0 -> R1 -> R2 -> R3, with
// access tokens A0..A3, one minute apart. It also issues an unrelated grant
// (X, XR) for the same user.
func chain(h *harness) {
	h.t.Helper()
	h.issue("A0", "R0", "alice", "alice", t0)
	h.issue("X", "XR", "alice", "alice", t0)
	for i, at := range []int64{t0 + 60_000, t0 + 120_000, t0 + 180_000} {
		n := string(rune('0' + i))
		m := string(rune('1' + i))
		if r := h.spend("R"+n, "A"+m, "R"+m, "alice", at); r.Status != OK {
			h.t.Fatalf("spend R%s: %v", n, r.Status)
		}
	}
}

func TestRefresh_ReuseAfterWindowRevokesDescendantsOnly(t *testing.T) {
	tests := []struct {
		name         string
		replay       string
		preInvalid   []string // access tokens invalidated before the replay
		wantRevoked  int
		wantRevokedT []string // tokens invalidated afterwards (A* access, R* refresh)
	}{
		{"replay of the first token", "R0", nil, 6, []string{"A1", "R1", "A2", "R2", "A3", "R3"}},
		{"replay of a middle token", "R1", nil, 4, []string{"A2", "R2", "A3", "R3"}},
		{"replay of the next-to-last token", "R2", nil, 2, []string{"A3", "R3"}},
		{"already invalidated descendants are not counted", "R1", []string{"A3"}, 3, []string{"A2", "R2", "A3", "R3"}},
	}
	all := []string{"A0", "R0", "A1", "R1", "A2", "R2", "A3", "R3", "X", "XR"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			chain(h)
			for _, a := range tt.preInvalid {
				h.mustOK(&Invalidate{Meta: Meta{Time: t0}, By: ByAccessToken, Token: dg(a)})
			}
			res := h.spend(tt.replay, "N", "NR", "alice", t0+600_000)
			if res.Status != Reused || res.Revoked != tt.wantRevoked {
				t.Fatalf("result = %+v, want reused with %d revoked", res, tt.wantRevoked)
			}
			revoked := map[string]bool{}
			for _, s := range tt.wantRevokedT {
				revoked[s] = true
			}
			for _, s := range all {
				if got := invalidated(h, s); got != revoked[s] {
					t.Errorf("%s invalidated = %v, want %v", s, got, revoked[s])
				}
			}
			if _, ok := h.f.AccessToken(dg("N")); ok {
				t.Error("a replay stored a new access token")
			}
		})
	}
}

func TestRefresh_ReuseWithoutRevokeOnReplayChangesNothing(t *testing.T) {
	h := newHarness(t)
	chain(h)
	before := contents(h.f)
	res := h.apply(&Refresh{Meta: Meta{Time: t0 + 600_000}, Presented: dg("R0"), Client: "alice",
		NewAccess: dg("N"), NewRefresh: dg("NR"), Lifetime: lifetime})
	if res.Status != Reused || res.Revoked != 0 {
		t.Fatalf("result = %+v", res)
	}
	assertUnchanged(t, h.f, before)
}

// invalidated reports whether the token named s (A*/X access, R*/XR refresh)
// is invalidated.
func invalidated(h *harness, s string) bool {
	if s[0] == 'R' || s == "XR" {
		return h.refresh(s).Invalidated
	}
	return h.access(s).Invalidated
}

func TestPurge_RemovesRecordsPastRetention(t *testing.T) {
	h := newHarness(t)
	now := t0 + 2*RefreshLifetime
	h.issue("old", "oldR", "alice", "", now-RecordRetention)       // refresh exactly at retention: purged
	h.issue("young", "youngR", "alice", "", now-RecordRetention+1) // refresh one ms younger: kept
	// Access records go ExpiredAccessRetention after their expiry.
	h.issue("gone", "", "alice", "", now-lifetime-ExpiredAccessRetention)
	h.issue("justExpired", "", "alice", "", now-lifetime-ExpiredAccessRetention+1)
	h.f.Apply(100, &SetNode{Meta: Meta{ID: rid(1), Time: now - DedupRetention - 1}, NodeID: "n", HTTPAddr: "a"})
	h.f.Apply(101, &SetNode{Meta: Meta{ID: rid(2), Time: now - DedupRetention}, NodeID: "n", HTTPAddr: "a"})
	res := h.f.Apply(102, &Purge{Meta: Meta{Time: now}})
	if res.Status != OK || res.Purged != 4 {
		t.Fatalf("result = %+v, want 4 purged (access old, young and gone; refresh oldR)", res)
	}
	for _, s := range []string{"old", "young", "gone"} {
		if _, ok := h.f.AccessToken(dg(s)); ok {
			t.Errorf("access %q not purged", s)
		}
	}
	if _, ok := h.f.RefreshToken(dg("oldR")); ok {
		t.Error("refresh oldR not purged")
	}
	if a := h.access("justExpired"); a.Expires >= now {
		t.Fatalf("justExpired expires at %d, want before %d", a.Expires, now)
	}
	h.refresh("youngR")
	if c := h.f.Counts(); c.Requests != 1 {
		t.Fatalf("remembered requests = %d, want 1 (the one exactly DedupRetention old)", c.Requests)
	}
}
