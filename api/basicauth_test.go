package api

import "testing"

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
