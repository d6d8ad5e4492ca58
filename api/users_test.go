package api

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/fsm"
)

// mustUser returns a user from n's state.
func mustUser(t *testing.T, n *testNode, name string) fsm.User {
	t.Helper()
	u, ok := n.srv.state.User(name)
	if !ok {
		t.Fatalf("no user %s", name)
	}
	return u
}

func TestUsers_CreateGetUpdateDelete(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	admin := basicAuth("elastic", "elastic-pw")
	r := n.do("PUT", "/_security/user/bob", `{"password":"bob-secret","roles":["monitoring_user"],"full_name":"Bob","metadata":{"team":"ops"}}`, admin...)
	if string(r.want(t, 200).body) != `{"created":true}` {
		t.Fatalf("create: %s", r.body)
	}
	r = n.do("POST", "/_security/user/bob", `{"roles":["monitoring_user"],"email":"bob@example.com"}`, admin...)
	if string(r.want(t, 200).body) != `{"created":false}` {
		t.Fatalf("update: %s", r.body)
	}
	r = n.do("GET", "/_security/user/bob", "", admin...).want(t, 200)
	want := `{"bob":{"username":"bob","roles":["monitoring_user"],"full_name":null,"email":"bob@example.com","metadata":{},"enabled":true}}`
	if string(r.body) != want {
		t.Fatalf("get\n got %s\nwant %s", r.body, want)
	}
	// The update kept the password.
	n.do("GET", "/_cluster/health", "", basicAuth("bob", "bob-secret")...).want(t, 200)

	all := n.do("GET", "/_security/user", "", admin...).want(t, 200).json(t)
	if len(all) != 5 || all["elastic"].(map[string]any)["metadata"].(map[string]any)["_reserved"] != true {
		t.Fatalf("get all: %v", all)
	}
	if r := n.do("GET", "/_security/user/ghost", "", admin...).want(t, 404); string(r.body) != `{}` {
		t.Fatalf("unknown user: %s", r.body)
	}
	if r := n.do("GET", "/_security/user/bob,ghost", "", admin...).want(t, 200); !strings.HasPrefix(string(r.body), `{"bob":`) {
		t.Fatalf("list: %s", r.body)
	}
	if r := n.do("DELETE", "/_security/user/bob", "", admin...).want(t, 200); string(r.body) != `{"found":true}` {
		t.Fatalf("delete: %s", r.body)
	}
	if r := n.do("DELETE", "/_security/user/bob", "", admin...).want(t, 404); string(r.body) != `{"found":false}` {
		t.Fatalf("delete again: %s", r.body)
	}
}

func TestUsers_Validation(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	admin := basicAuth("elastic", "elastic-pw")
	cheap, _ := bcrypt.GenerateFromPassword([]byte("long-enough"), bcrypt.MinCost)
	cases := []struct{ path, body, reason string }{
		{"/_security/user/carol", `{"roles":[]}`, "Validation Failed: 1: password must be specified unless you are updating an existing user;"},
		{"/_security/user/carol", `{"password":"short","roles":[]}`, "Validation Failed: 1: passwords must be at least [6] characters long;"},
		{"/_security/user/carol", `{"password":"` + strings.Repeat("x", 73) + `"}`,
			"Validation Failed: 1: roles are missing;2: passwords must be at most [72] bytes long;"},
		{"/_security/user/%20carol", `{"password":"long-enough","roles":[]}`, "Validation Failed: 1: " + invalidUsername + ";"},
		{"/_security/user/elastic", `{"password":"long-enough","roles":[]}`, "Validation Failed: 1: Username [elastic] is reserved and may not be used.;"},
		{"/_security/user/carol", `{"password":"long-enough","roles":[],"metadata":{"_x":1}}`, "Validation Failed: 1: metadata keys may not start with [_];"},
		{"/_security/user/carol", `{"password_hash":"` + string(cheap) + `","roles":[]}`,
			"Validation Failed: 1: password hashes must use a bcrypt cost of at least [10];"},
	}
	for _, c := range cases {
		n.do("PUT", c.path, c.body, admin...).wantError(t, 400, "action_request_validation_exception", c.reason)
	}
	n.do("PUT", "/_security/user/carol", `{"roles":"superuser"}`, admin...).wantError(t, 400, "parse_exception",
		"failed to parse field [roles]: expected an array but found string")
	n.do("DELETE", "/_security/user/elastic", "", admin...).wantError(t, 400, "illegal_argument_exception",
		"user [elastic] is reserved and may not be deleted")
}

func TestUsers_NeedSuperuser(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	alice := basicAuth("alice", "alice-pw")
	n.do("PUT", "/_security/user/bob", `{"password":"bob-secret","roles":[]}`, alice...).wantError(t, 403, "security_exception",
		"action [cluster:admin/xpack/security/user/put] is unauthorized for user [alice]")
	n.do("DELETE", "/_security/user/monty", "", alice...).wantError(t, 403, "security_exception",
		"action [cluster:admin/xpack/security/user/delete] is unauthorized for user [alice]")
	n.do("PUT", "/_security/user/monty/_disable", "", alice...).wantError(t, 403, "security_exception",
		"action [cluster:admin/xpack/security/user/set_enabled] is unauthorized for user [alice]")
	n.do("POST", "/_security/user/monty/_password", `{"password":"whatever"}`, alice...).wantError(t, 403, "security_exception",
		"action [cluster:admin/xpack/security/user/change_password] is unauthorized for user [alice]")
	n.do("PUT", "/_security/user/bob", `{"password":"bob-secret","roles":[]}`).want(t, 401)
}

func TestUsers_ChangePassword(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	// Every user may change its own password (here through /user/_password,
	// which names no user); each change costs a bcrypt hash, so only one.
	r := n.do("POST", "/_security/user/_password", `{"password":"alice-pw2"}`, basicAuth("alice", "alice-pw")...).want(t, 200)
	if string(r.body) != `{}` {
		t.Fatalf("change password: %s", r.body)
	}
	n.passwordGrant("alice", "alice-pw2")
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 401)
	admin := basicAuth("elastic", "elastic-pw")
	n.do("PUT", "/_security/user/ghost/_password", `{"password":"whatever"}`, admin...).wantError(t, 404, "resource_not_found_exception",
		"user [ghost] does not exist")
	n.do("PUT", "/_security/user/alice/_password", `{}`, admin...).wantError(t, 400, "action_request_validation_exception",
		"Validation Failed: 1: password must be specified;")
}

func TestUsers_EnableDisableRules(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	admin := basicAuth("elastic", "elastic-pw")
	n.do("PUT", "/_security/user/elastic/_disable", "", admin...).wantError(t, 400, "action_request_validation_exception",
		"Validation Failed: 1: users may not update the enabled status of their own account;")
	n.do("PUT", "/_security/user/ghost/_enable", "", admin...).wantError(t, 404, "resource_not_found_exception", "user [ghost] does not exist")
	if r := n.do("POST", "/_security/user/alice/_disable", "", admin...).want(t, 200); string(r.body) != `{}` {
		t.Fatalf("disable: %s", r.body)
	}
	u, _ := n.srv.state.User("alice")
	if u.Enabled {
		t.Fatal("alice still enabled")
	}
}

func TestUsers_PutWithEnabledFalseEndsTokens(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	access, _ := n.issueDirect("alice", realmOf(mustUser(t, n, "alice")), 0)
	n.do("PUT", "/_security/user/alice", `{"roles":[],"enabled":false}`, basicAuth("elastic", "elastic-pw")...).want(t, 200)
	n.do("GET", "/_security/_authenticate", "", bearer(access)...).wantError(t, 401, "security_exception", "token expired")
}
