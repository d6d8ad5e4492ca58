package api

import (
	"strings"
	"testing"
)

func TestUserNames_UnderscoreNamesAreRoutesNotUsers(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	admin := basicAuth("elastic", "elastic-pw")
	body := `{"password":"bob-secret","roles":["superuser"]}`
	for _, name := range []string{"_has_privileges", "_privileges", "_anything"} {
		r := n.do("PUT", "/_security/user/"+name, body, admin...)
		r.want(t, 400)
		if !strings.Contains(string(r.body), "reserved") {
			t.Errorf("PUT user %s: %s", name, r.body)
		}
		if _, ok := n.srv.state.User(name); ok {
			t.Fatalf("user %s was created", name)
		}
	}
	// POST _has_privileges with a user-shaped body is the privilege check,
	// which refuses the unknown fields instead of creating a user.
	n.do("POST", "/_security/user/_has_privileges", body, admin...).want(t, 400)
	if _, ok := n.srv.state.User("_has_privileges"); ok {
		t.Fatal("POST _has_privileges created a user")
	}
}

func TestUserPrivileges_ListsTheCallersClusterPrivileges(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	admin := basicAuth("elastic", "elastic-pw")
	n.do("PUT", "/_security/user/mon", `{"password":"mon-secret","roles":["monitor","token_manager"]}`, admin...).want(t, 200)
	n.do("PUT", "/_security/user/plain", `{"password":"plain-secret","roles":[]}`, admin...).want(t, 200)
	for user, want := range map[string]string{
		"elastic": `{"applications":[],"cluster":["all"],"global":[],"indices":[],"run_as":[]}`,
		"mon":     `{"applications":[],"cluster":["monitor","manage_token"],"global":[],"indices":[],"run_as":[]}`,
		"plain":   `{"applications":[],"cluster":[],"global":[],"indices":[],"run_as":[]}`,
	} {
		pw := map[string]string{"elastic": "elastic-pw", "mon": "mon-secret", "plain": "plain-secret"}[user]
		r := n.do("GET", "/_security/user/_privileges", "", basicAuth(user, pw)...).want(t, 200)
		if string(r.body) != want {
			t.Errorf("%s: got %s, want %s", user, r.body, want)
		}
	}
	n.do("GET", "/_security/user/_privileges", "").want(t, 401)
}

func TestHasPrivileges_AnswersPerClusterPrivilege(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	admin := basicAuth("elastic", "elastic-pw")
	n.do("PUT", "/_security/user/mon", `{"password":"mon-secret","roles":["monitor"]}`, admin...).want(t, 200)
	q := `{"cluster":["monitor","manage_token"],"index":[{"names":["logs"],"privileges":["read"]}]}`
	got := n.do("POST", "/_security/user/_has_privileges", q, basicAuth("mon", "mon-secret")...).want(t, 200)
	want := `{"application":{},"cluster":{"manage_token":false,"monitor":true},"has_all_requested":false,"index":{"logs":{"read":false}},"username":"mon"}`
	if string(got.body) != want {
		t.Errorf("monitor user: got %s\nwant %s", got.body, want)
	}
	got = n.do("GET", "/_security/user/_has_privileges", `{"cluster":["all","manage_security"]}`, admin...).want(t, 200)
	if m := got.json(t); m["has_all_requested"] != true {
		t.Errorf("superuser: %s", got.body)
	}
	n.do("POST", "/_security/user/_has_privileges", `{"cluster":["fly"]}`, admin...).
		wantError(t, 400, "illegal_argument_exception", "unknown cluster privilege [fly]. a privilege must be one of [all introspect_token manage manage_security manage_token monitor read_security]")
}

func TestPutUser_UsernameInBodyMustMatchThePath(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	admin := basicAuth("elastic", "elastic-pw")
	n.do("PUT", "/_security/user/bob", `{"username":"bob","password":"bob-secret","roles":[]}`, admin...).want(t, 200)
	r := n.do("PUT", "/_security/user/carol", `{"username":"mallory","password":"bob-secret","roles":[]}`, admin...)
	r.want(t, 400)
	if !strings.Contains(string(r.body), "does not match the username in the path") {
		t.Errorf("mismatch: %s", r.body)
	}
}

func TestNodesHTTP_ListsEveryMemberForSniffing(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	admin := basicAuth("elastic", "elastic-pw")
	for _, path := range []string{"/_nodes/http", "/_nodes/_all/http"} {
		m := n.do("GET", path, "", admin...).want(t, 200).json(t)
		nodes, _ := m["nodes"].(map[string]any)
		self, _ := nodes[n.srv.cfg.NodeID].(map[string]any)
		if len(nodes) != 1 || self == nil {
			t.Fatalf("%s: %v", path, m)
		}
		http, _ := self["http"].(map[string]any)
		if http["publish_address"] != n.srv.cfg.HTTPAdvertise || len(self["roles"].([]any)) != 3 {
			t.Errorf("%s: node %v", path, self)
		}
	}
	n.do("GET", "/_nodes/stats", "", admin...).want(t, 400)
	n.do("GET", "/_nodes/http", "").want(t, 401)
}
