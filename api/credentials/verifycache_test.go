package credentials

import (
	"context"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestVerifyCache_RemembersOnlyWhatACheckAccepted: remembers answers true
// only for the name, hash and password of a check that succeeded.
func TestVerifyCache_RemembersOnlyWhatACheckAccepted(t *testing.T) {
	t.Parallel()
	c := newVerifyCache(newBcryptGate(1, defaultMaxWait, bcrypt.CompareHashAndPassword))
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
