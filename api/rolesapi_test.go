package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/fsm"
)

// addRoleUser stores user name (password name+"-pw") with roles on n.
func addRoleUser(t *testing.T, n *testNode, name string, roles ...string) {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(name+"-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	n.propose(&fsm.PutUser{User: fsm.User{Username: name, Hash: hash, Roles: roles, Enabled: true, Realm: fsm.NativeRealm}})
}

// Once a role change that takes a privilege away is answered, no replica
// grants it any more: the follower, which applies only when asked (the
// fake node), refuses at once. Without the wait it would still grant the
// privilege from the state it had.
func TestRoleChange_NoReplicaGrantsTheRemovedPrivilegeOnceAnswered(t *testing.T) {
	t.Parallel()
	admin := authOf("elastic")
	for _, c := range []struct{ what, method, body string }{
		{"shrink", "PUT", `{"cluster":["manage_token"]}`},
		{"delete", "DELETE", ""},
	} {
		t.Run(c.what, func(t *testing.T) {
			t.Parallel()
			leader := newLeader(t, nil)
			leader.propose(&fsm.PutRole{Role: fsm.Role{Name: "watchers", Cluster: []string{"monitor"}}})
			addRoleUser(t, leader, "rita", "watchers")
			follower := newFollower(t, leader)
			follower.do("GET", "/_cluster/health", "", basicAuth("rita", "rita-pw")...).want(t, 200)
			leader.do(c.method, "/_security/role/watchers", c.body, admin...).want(t, 200)
			follower.do("GET", "/_cluster/health", "", basicAuth("rita", "rita-pw")...).
				wantError(t, 403, "security_exception", "action [cluster:monitor/health] is unauthorized for user [rita]")
		})
	}
}

// The built-in roles cannot be changed or deleted, with Elasticsearch's
// words.
func TestRolesAPI_ReservedRolesCannotChange(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	admin := authOf("elastic")
	for _, name := range []string{"superuser", "monitoring_user", "token_manager"} {
		n.do("PUT", "/_security/role/"+name, `{"cluster":["all"]}`, admin...).
			wantError(t, 400, "illegal_argument_exception", fmt.Sprintf("role [%s] is reserved and cannot be modified", name))
		n.do("DELETE", "/_security/role/"+name, "", admin...).
			wantError(t, 400, "illegal_argument_exception", fmt.Sprintf("role [%s] is reserved and cannot be deleted", name))
	}
	got := n.do("GET", "/_security/role/token_manager", "", admin...).want(t, 200).json(t)
	want := map[string]any{"token_manager": map[string]any{"cluster": []any{"manage_token"}, "indices": []any{},
		"applications": []any{}, "run_as": []any{}, "metadata": map[string]any{"_reserved": true},
		"transient_metadata": map[string]any{"enabled": true}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GET token_manager = %v, want %v", got, want)
	}
}

// A custom role is created, updated, read back with its index and
// application privileges as given, and deleted; bad bodies get a 400.
func TestRolesAPI_PutGetDelete(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	admin := authOf("elastic")
	body := `{"cluster":["monitor","manage_token"],"indices":[{"names":["logs-*"],"privileges":["read"]}],` +
		`"applications":[{"application":"kibana","privileges":["all"],"resources":["*"]}],"run_as":[],"metadata":{"team":"ops"}}`
	if got := n.do("PUT", "/_security/role/ops", body, admin...).want(t, 200).body; string(got) != `{"role":{"created":true}}` {
		t.Fatalf("create: %s", got)
	}
	if got := n.do("POST", "/_security/role/ops", body, admin...).want(t, 200).body; string(got) != `{"role":{"created":false}}` {
		t.Fatalf("update: %s", got)
	}
	var roles map[string]json.RawMessage
	if err := json.Unmarshal(n.do("GET", "/_security/role", "", admin...).want(t, 200).body, &roles); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ops", "superuser", "monitoring_user", "token_manager"} {
		if _, ok := roles[name]; !ok {
			t.Errorf("GET /_security/role lacks %s: %v", name, roles)
		}
	}
	want := `{"ops":{"cluster":["monitor","manage_token"],"indices":[{"names":["logs-*"],"privileges":["read"]}],` +
		`"applications":[{"application":"kibana","privileges":["all"],"resources":["*"]}],"run_as":[],` +
		`"metadata":{"team":"ops"},"transient_metadata":{"enabled":true}}}`
	if got := n.do("GET", "/_security/role/ops,nope", "", admin...).want(t, 200).body; string(got) != want {
		t.Fatalf("GET ops\n got %s\nwant %s", got, want)
	}
	n.do("PUT", "/_security/role/bad", `{"cluster":["manage_everything"]}`, admin...).
		wantError(t, 400, "illegal_argument_exception", fmt.Sprintf("unknown cluster privilege [manage_everything]. a privilege must be one of %v",
			sortedKeys(clusterPrivileges)))
	n.do("PUT", "/_security/role/bad", `{"indices":{}}`, admin...).
		wantError(t, 400, "action_request_validation_exception", "Validation Failed: 1: [indices] must be an array;")
	n.do("PUT", "/_security/role/bad", `{"cluster":"all"}`, admin...).want(t, 400)
	n.do("PUT", "/_security/role/%20bad", `{}`, admin...).
		wantError(t, 400, "action_request_validation_exception", "Validation Failed: 1: "+invalidRoleName+";")
	if got := n.do("DELETE", "/_security/role/ops", "", admin...).want(t, 200).body; string(got) != `{"found":true}` {
		t.Fatalf("delete: %s", got)
	}
	if got := n.do("DELETE", "/_security/role/ops", "", admin...).want(t, 404).body; string(got) != `{"found":false}` {
		t.Fatalf("second delete: %s", got)
	}
	if got := n.do("GET", "/_security/role/ops", "", admin...).want(t, 404).body; string(got) != `{}` {
		t.Fatalf("GET deleted: %s", got)
	}
}

// _has_privileges answers from custom roles; index privileges of a custom
// role are stored but grant nothing; a role that does not exist grants
// nothing and does not keep its user out.
func TestRolesAPI_HasPrivilegesFollowsCustomRoles(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	admin := authOf("elastic")
	n.do("PUT", "/_security/role/ops", `{"cluster":["manage_token"],"indices":[{"names":["x"],"privileges":["read"]}]}`, admin...).want(t, 200)
	addRoleUser(t, n, "olga", "ops", "ghost")
	got := n.do("POST", "/_security/user/_has_privileges",
		`{"cluster":["manage_token","monitor","read_security"],"index":[{"names":["x"],"privileges":["read"]}]}`,
		basicAuth("olga", "olga-pw")...).want(t, 200).json(t)
	want := map[string]any{"username": "olga", "has_all_requested": false,
		"cluster":     map[string]any{"manage_token": true, "monitor": false, "read_security": false},
		"index":       map[string]any{"x": map[string]any{"read": false}},
		"application": map[string]any{}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("_has_privileges\n got %v\nwant %v", got, want)
	}
	n.do("GET", "/_security/_authenticate", "", basicAuth("olga", "olga-pw")...).want(t, 200)
	n.do("PUT", "/_security/role/ghost", `{"cluster":["monitor"]}`, admin...).want(t, 200)
	got = n.do("GET", "/_security/user/_has_privileges", `{"cluster":["monitor"]}`, basicAuth("olga", "olga-pw")...).want(t, 200).json(t)
	if got["has_all_requested"] != true {
		t.Fatalf("monitor once the ghost role exists: %v", got)
	}
}
