package fsm

import (
	"reflect"
	"testing"
)

func TestApply_RepeatedRequestIDReturnsRememberedResult(t *testing.T) {
	tests := []struct {
		name string
		cmd  func() Command // a fresh, identical command each call
		want Result
	}{
		{"create token", func() Command {
			return &CreateToken{Meta: Meta{ID: rid(1), Time: t0 + 10}, Access: dg("A1"), Refresh: dg("R1"), User: "alice", Realm: NativeRealm, Lifetime: lifetime}
		}, Result{}},
		{"refresh", func() Command {
			return &Refresh{Meta: Meta{ID: rid(2), Time: t0 + 10}, Presented: dg("R"), NewAccess: dg("A2"), NewRefresh: dg("R2"), Sealed: []byte("s"), Lifetime: lifetime}
		}, Result{User: "alice", Realm: NativeRealm}},
		{"invalidate", func() Command {
			return &Invalidate{Meta: Meta{ID: rid(3), Time: t0 + 10}, By: ByAccessToken, Token: dg("A")}
		}, Result{Invalidated: 1, User: "alice", Realm: NativeRealm}},
		{"delete user", func() Command {
			return &DeleteUser{Meta: Meta{ID: rid(4), Time: t0 + 10}, Username: "alice"}
		}, Result{Invalidated: 2}},
		{"put user", func() Command {
			return &PutUser{Meta: Meta{ID: rid(5), Time: t0 + 10}, User: User{Username: "bob", Enabled: true}}
		}, Result{Created: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.addUser("alice")
			h.issue("A", "R", "alice", "", t0)
			if got := h.apply(tt.cmd()); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("first apply = %+v, want %+v", got, tt.want)
			}
			before := contents(h.f)
			repeat := tt.want
			repeat.Repeated = true
			if got := h.apply(tt.cmd()); !reflect.DeepEqual(got, repeat) {
				t.Fatalf("repeat = %+v, want the first result %+v, marked repeated", got, repeat)
			}
			assertUnchanged(t, h.f, before)
			if h.f.AppliedIndex() != h.index {
				t.Fatalf("applied index %d, want %d", h.f.AppliedIndex(), h.index)
			}
		})
	}
}

func TestApply_RepeatedRefreshIDIsNotAnsweredAsRetry(t *testing.T) {
	// Without deduplication the second apply would see a spent token and
	// answer Retried; with it, the proposer gets the very first answer.
	h := newHarness(t)
	h.issue("A", "R", "alice", "", t0)
	c := &Refresh{Meta: Meta{ID: rid(9), Time: t0 + 1}, Presented: dg("R"), NewAccess: dg("A1"), NewRefresh: dg("R1"), Sealed: []byte("s"), Lifetime: lifetime}
	first := h.apply(c)
	second := h.apply(c)
	first.Repeated = true
	if first.Status != OK || !reflect.DeepEqual(first, second) {
		t.Fatalf("first %+v, second %+v", first, second)
	}
	other := *c
	other.ID = rid(10)
	if r := h.apply(&other); r.Status != Retried {
		t.Fatalf("same refresh under a new ID: %v, want retried", r.Status)
	}
}

func TestApply_ZeroRequestIDIsNeverDeduplicated(t *testing.T) {
	h := newHarness(t)
	h.issue("A", "", "alice", "", t0)
	c := &Invalidate{Meta: Meta{Time: t0}, By: ByAccessToken, Token: dg("A")}
	if r := h.apply(c); r.Invalidated != 1 {
		t.Fatalf("first = %+v", r)
	}
	if r := h.apply(c); r.Previously != 1 {
		t.Fatalf("second = %+v, want previously invalidated", r)
	}
	if n := h.f.Counts().Requests; n != 0 {
		t.Fatalf("remembered %d requests", n)
	}
}

func TestApply_PurgedRequestIDAppliesAgain(t *testing.T) {
	h := newHarness(t)
	h.issue("A", "", "alice", "", t0)
	c := &Invalidate{Meta: Meta{ID: rid(1), Time: t0}, By: ByAccessToken, Token: dg("A")}
	h.apply(c)
	h.mustOK(&Purge{Meta: Meta{Time: t0 + DedupRetention + 1}})
	if r := h.apply(c); r.Previously != 1 {
		t.Fatalf("after purge = %+v, want previously invalidated", r)
	}
}

func TestApply_NilCommandOnlyAdvancesIndex(t *testing.T) {
	h := newHarness(t)
	h.issue("A", "R", "alice", "", t0)
	before := contents(h.f)
	if r := h.f.Apply(42, nil); !reflect.DeepEqual(r, Result{}) {
		t.Fatalf("result = %+v", r)
	}
	assertUnchanged(t, h.f, before)
	if got := h.f.AppliedIndex(); got != 42 {
		t.Fatalf("applied index %d, want 42", got)
	}
}

func TestApply_IndexAdvancesWhateverTheOutcome(t *testing.T) {
	f := New()
	if f.AppliedIndex() != 0 {
		t.Fatal("new FSM has a non-zero index")
	}
	for i, c := range []Command{
		&DeleteUser{Username: "ghost"},                         // not found
		&Refresh{Presented: dg("nope")},                        // not found
		&Invalidate{Meta: Meta{ID: rid(1)}, By: ByAccessToken}, // not found, remembered
		&Invalidate{Meta: Meta{ID: rid(1)}, By: ByAccessToken}, // deduplicated
		&SetNode{NodeID: "n", HTTPAddr: "a"},                   // ok
	} {
		idx := uint64(10 + i)
		f.Apply(idx, c)
		if got := f.AppliedIndex(); got != idx {
			t.Fatalf("after %T: applied index %d, want %d", c, got, idx)
		}
	}
}

// foreign is a Command this package does not define.
type foreign struct{ Meta }

func (*foreign) Type() Type { return 0x7e }

func TestApply_PanicsOnCommandTypeItDoesNotDefine(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	New().Apply(1, &foreign{})
}

func TestReaders_ReturnCopiesCallersCannotMutate(t *testing.T) {
	h := newHarness(t)
	put := &PutUser{Meta: Meta{Time: t0}, User: User{Username: "alice", Hash: []byte("hash"), Roles: []string{"r"}, Metadata: []byte("{}"), Enabled: true}}
	h.mustOK(put)
	put.User.Hash[0], put.User.Roles[0], put.User.Metadata[0] = 'X', "X", 'X' // the command is the caller's too
	h.issue("A", "R", "alice", "", t0)
	spend := &Refresh{Meta: Meta{Time: t0 + 1}, Presented: dg("R"), NewAccess: dg("A1"), NewRefresh: dg("R1"), Sealed: []byte("sealed"), Lifetime: lifetime}
	h.mustOK(spend)
	spend.Sealed[0] = 'X'
	h.mustOK(&SetNode{NodeID: "n", HTTPAddr: "a"})
	before := contents(h.f)

	u, _ := h.f.User("alice")
	u.Hash[0], u.Roles[0], u.Metadata[0] = 'Y', "Y", 'Y'
	us := h.f.Users()
	us[0].Hash[0], us[0].Roles[0] = 'Z', "Z"
	r, _ := h.f.RefreshToken(dg("R"))
	r.Sealed[0] = 'Y'
	h.f.Nodes()["n"] = "changed"
	retry := h.apply(&Refresh{Meta: Meta{Time: t0 + 2}, Presented: dg("R")})
	retry.Sealed[0] = 'Y'

	assertUnchanged(t, h.f, before)
	if u, _ := h.f.User("alice"); string(u.Hash) != "hash" || u.Roles[0] != "r" || string(u.Metadata) != "{}" {
		t.Fatalf("user = %+v", u)
	}
	if r := h.refresh("R"); string(r.Sealed) != "sealed" {
		t.Fatalf("sealed = %q", r.Sealed)
	}
}

func TestReaders_UsersAreSortedByName(t *testing.T) {
	h := newHarness(t)
	for _, n := range []string{"mallory", "alice", "elastic", "bob"} {
		h.addUser(n)
	}
	var got []string
	for _, u := range h.f.Users() {
		got = append(got, u.Username)
	}
	if want := []string{"alice", "bob", "elastic", "mallory"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("users = %v, want %v", got, want)
	}
	if n := len(New().Users()); n != 0 {
		t.Fatalf("empty FSM has %d users", n)
	}
}

func TestReaders_CountsEveryKind(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice")
	h.issue("A", "R", "alice", "", t0)
	h.issue("B", "", "alice", "", t0)
	h.mustOK(&SetNode{Meta: Meta{ID: rid(1)}, NodeID: "n", HTTPAddr: "a"})
	want := Counts{AccessTokens: 2, RefreshTokens: 1, Users: 1, Requests: 1}
	if got := h.f.Counts(); got != want {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
}
