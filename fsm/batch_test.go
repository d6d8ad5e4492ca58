package fsm

import (
	"crypto/sha256"
	"errors"
	"testing"
)

func TestBatch_AppliesEachCommandInOrderWithItsOwnResult(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice")
	create := &CreateToken{Meta: Meta{ID: rid(1), Time: t0}, Access: dg("a1"), Refresh: dg("r1"), User: "alice", Realm: NativeRealm, Lifetime: lifetime}
	ghost := &CreateToken{Meta: Meta{ID: rid(2), Time: t0}, Access: dg("a2"), User: "ghost", Realm: NativeRealm, Lifetime: lifetime}
	// The refresh spends the pair created earlier in the same entry.
	spend := &Refresh{Meta: Meta{ID: rid(3), Time: t0 + 1}, Presented: dg("r1"), NewAccess: dg("a3"), NewRefresh: dg("r3"), Lifetime: lifetime}
	b := mustBatch(create, ghost, spend)
	entry, err := Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := Decode(entry)
	if err != nil {
		t.Fatal(err)
	}
	r := h.apply(decoded)
	if len(r.Results) != 3 {
		t.Fatalf("results %+v, want 3", r.Results)
	}
	if r.Results[0].Status != OK || r.Results[1].Status != NotFound || r.Results[2].Status != OK || r.Results[2].User != "alice" {
		t.Fatalf("results %+v: want ok, not_found (no such user), ok for alice", r.Results)
	}
	for _, tok := range []string{"a1", "a3"} {
		if _, ok := h.f.AccessToken(dg(tok)); !ok {
			t.Errorf("access token %s not stored", tok)
		}
	}
	if _, ok := h.f.AccessToken(dg("a2")); ok {
		t.Error("the ghost's token was stored")
	}

	// The same batch again (a retried proposal) changes nothing and answers
	// what the first application answered.
	again := h.apply(decoded)
	if again.Results[2].Status != OK || again.Results[0].Status != OK || again.Results[1].Status != NotFound {
		t.Fatalf("replayed batch results %+v", again.Results)
	}
	if got := h.refresh("r1"); got.UsedAt != t0+1 {
		t.Fatalf("r1 after the replay: %+v", got)
	}
}

func TestDecode_RefusesBadBatches(t *testing.T) {
	inner, err := Encode(mustBatch(&Purge{}))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]*Batch{
		"empty":           {},
		"nested batch":    {Entries: [][]byte{inner}},
		"malformed entry": {Entries: [][]byte{{byte(TypeCreateToken), FormatVersion, 0xc1}}},
		"too many":        {Entries: make([][]byte, MaxBatch+1)},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			entry, err := Encode(b)
			if err != nil {
				t.Fatal(err)
			}
			if c, err := Decode(entry); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode = %v, %v; want ErrMalformed", c, err)
			}
		})
	}
	if _, err := NewBatch([]Command{mustBatch(&Purge{})}); err == nil {
		t.Error("NewBatch accepted a nested batch")
	}
	if _, err := NewBatch(nil); err == nil {
		t.Error("NewBatch accepted no commands")
	}
}

func TestCreateToken_RefusedWhenTheCheckedPasswordChanged(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice")
	checked := Digest(sha256.Sum256([]byte("hash-alice")))
	create := func(access string) Result {
		return h.apply(&CreateToken{Meta: Meta{Time: t0}, Access: dg(access), User: "alice", Realm: NativeRealm,
			Lifetime: lifetime, PasswordCheck: checked})
	}
	if r := create("a1"); r.Status != OK {
		t.Fatalf("with the current password: %v", r.Status)
	}
	h.mustOK(&SetPassword{Meta: Meta{Time: t0}, Username: "alice", Hash: []byte("new-hash")})
	if r := create("a2"); r.Status != NotFound {
		t.Fatalf("after the password changed: %v, want not_found", r.Status)
	}
	if _, ok := h.f.AccessToken(dg("a2")); ok {
		t.Fatal("a token was stored on a password that is no longer the user's")
	}
}

func TestCreateToken_RefusedWhenTheAuthenticatingTokenIsNoLongerValid(t *testing.T) {
	h := newHarness(t)
	h.issue("via", "", "alice", "", t0)
	create := func(access string, at int64) Result {
		return h.apply(&CreateToken{Meta: Meta{Time: at}, Access: dg(access), User: "alice", Realm: NativeRealm,
			Lifetime: lifetime, TokenCheck: dg("via")})
	}
	if r := create("a1", t0+1); r.Status != OK {
		t.Fatalf("with a valid token: %v", r.Status)
	}
	if r := create("a2", t0+lifetime); r.Status != NotFound {
		t.Fatalf("once the token expired: %v, want not_found", r.Status)
	}
	h.mustOK(&Invalidate{Meta: Meta{Time: t0 + 2}, By: ByAccessToken, Token: dg("via")})
	if r := create("a3", t0+3); r.Status != NotFound {
		t.Fatalf("after the token was invalidated: %v, want not_found", r.Status)
	}
	if r := h.apply(&CreateToken{Meta: Meta{Time: t0}, Access: dg("a4"), User: "alice", Realm: NativeRealm,
		Lifetime: lifetime, TokenCheck: dg("unknown")}); r.Status != NotFound {
		t.Fatalf("with an unknown token: %v, want not_found", r.Status)
	}
}
