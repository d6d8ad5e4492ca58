package credentials

import (
	"context"
	"strconv"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestVerifyCache_RemembersOnlyWhatACheckAccepted: remembers answers true
// only for the name, hash and password of a check that succeeded.
func TestVerifyCache_RemembersOnlyWhatACheckAccepted(t *testing.T) {
	t.Parallel()
	c := newVerifyCache(newBcryptGate(1, defaultMaxWait, bcrypt.CompareHashAndPassword), verifyMaxSize)
	u, _ := testState(t).User("alice")
	if c.remembers("alice", u.Hash, "alice-pw") {
		t.Fatal("remembered before any check")
	}
	if ok, err := c.check(context.Background(), "alice", u.Hash, "alice-pw", nil); !ok || err != nil {
		t.Fatalf("check: %v, %v", ok, err)
	}
	if !c.remembers("alice", u.Hash, "alice-pw") {
		t.Fatal("a successful check is not remembered")
	}
	for _, miss := range []struct {
		name string
		hash []byte
		pw   string
	}{{"alice", u.Hash, "alice-pw2"}, {"alice", dummyHash, "alice-pw"}, {"bob", u.Hash, "alice-pw"}} {
		if c.remembers(miss.name, miss.hash, miss.pw) {
			t.Errorf("remembered %s with another hash or password", miss.name)
		}
	}
}

// TestVerifyCache_FullForgetsTheLeastRecentlySeenUserOnly: a full cache
// makes room by forgetting the user seen longest ago, so a user checking
// all along keeps the entry and pays no new bcrypt comparison.
func TestVerifyCache_FullForgetsTheLeastRecentlySeenUserOnly(t *testing.T) {
	t.Parallel()
	compares := 0
	equal := func(hash, password []byte) error { // a comparison that costs nothing
		compares++
		if string(hash) != string(password) {
			return bcrypt.ErrMismatchedHashAndPassword
		}
		return nil
	}
	const size = 100
	c := newVerifyCache(newBcryptGate(1, defaultMaxWait, equal), size)
	ctx := context.Background()
	check := func(name string) {
		t.Helper()
		if ok, err := c.check(ctx, name, []byte("pw-"+name), "pw-"+name, nil); !ok || err != nil {
			t.Fatalf("check %s: %v, %v", name, ok, err)
		}
	}
	check("steady")
	for i := range size {
		name := "user" + strconv.Itoa(i)
		check(name)
		if !c.remembers("steady", []byte("pw-steady"), "pw-steady") {
			t.Fatalf("the steady user was forgotten after %d other users", i+1)
		}
	}
	if c.m.Len() != size {
		t.Fatalf("cache holds %d entries, want its bound %d", c.m.Len(), size)
	}
	if c.remembers("user0", []byte("pw-user0"), "pw-user0") {
		t.Fatal("the user seen longest ago is still remembered in a cache past its bound")
	}
	before := compares
	check("steady")
	if compares != before {
		t.Fatal("the steady user paid a bcrypt comparison again")
	}
}
