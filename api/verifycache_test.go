package api

import (
	"context"
	"testing"
)

// TestVerifyCache_RemembersOnlyWhatACheckAccepted: remembers answers true
// only for the name, hash and password of a check that succeeded.
func TestVerifyCache_RemembersOnlyWhatACheckAccepted(t *testing.T) {
	t.Parallel()
	c := newVerifyCache(newBcryptGate(1))
	u, _ := newLeader(t, nil).srv.state.User("alice")
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

// TestBasic_RememberedPasswordEndsWithAChangeOrDisable: a password that
// succeeded over Basic stops working at once when it is changed or the
// user disabled, and the new password works at once.
func TestBasic_RememberedPasswordEndsWithAChangeOrDisable(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	admin := basicAuth("elastic", "elastic-pw")
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 200)
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 200)
	n.do("PUT", "/_security/user/alice/_disable", "", admin...).want(t, 200)
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 401)
	n.do("PUT", "/_security/user/alice/_enable", "", admin...).want(t, 200)
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 200)
	n.do("POST", "/_security/user/alice/_password", `{"password":"alice-new-pw"}`, admin...).want(t, 200)
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 401)
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-new-pw")...).want(t, 200)
}
