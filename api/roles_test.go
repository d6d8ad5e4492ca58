package api

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"testing"

	"github.com/julienschmidt/httprouter"
	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
)

// actionInvalidate is the action a 403 names for an invalidation by
// username or realm.
const actionInvalidate = "cluster:admin/xpack/security/token/invalidate"

// routeCheck is one route (as registered) with a request to it, the user
// that may make that request and the users that may not.
type routeCheck struct {
	what    string // what the request does, for the subtest name
	method  string
	pattern string // the route as registered in the router
	path    string // the request path; "" means pattern
	body    string
	// prepare, if set, runs on the fresh node first and returns the body.
	prepare func(t *testing.T, n *testNode) string
	// raft: the route needs a real Raft node (snapshot save and restore).
	raft bool
	// may is a user allowed to make the request ("" sends no credentials)
	// and mayStatus its answer.
	may       string
	mayStatus int
	// mayNot are users refused with a 403 naming action. A route any
	// authenticated user may use has none.
	mayNot []string
	action string
	// open: the request needs no credentials at all (the token or password
	// in the body is the credential, or the route reveals nothing).
	open bool
}

// customUsers are the users newRolesLeader adds besides the seeded ones,
// with their roles: moni has the built-in monitor role; reader and the
// twins ("c-" and the name of a seeded user) have custom roles that grant
// the same cluster privileges as the built-in role of their seeded twin.
var customUsers = map[string][]string{
	"moni":      {"monitor"},
	"reader":    {"c_read"},
	"c-elastic": {"c_all", "no_such_role"},
	"c-monty":   {"c_monitor"},
	"c-tokman":  {"c_tokens"},
}

// customRoles are the custom roles newRolesLeader creates.
var customRoles = map[string][]string{
	"c_read":    {"read_security"},
	"c_all":     {"all"},
	"c_monitor": {"monitor"},
	"c_tokens":  {"manage_token"},
}

// testPasswords are the passwords of the seeded users and of customUsers.
var testPasswords = map[string]string{}

func init() {
	for _, u := range testUsers {
		testPasswords[u.name] = u.password
	}
	for name := range customUsers {
		testPasswords[name] = name + "-pw"
	}
}

// authOf returns the Authorization header pair of user, none for "".
func authOf(user string) []string {
	if user == "" {
		return nil
	}
	return basicAuth(user, testPasswords[user])
}

// newRolesLeader is newLeader plus customRoles and customUsers.
func newRolesLeader(t *testing.T) *testNode {
	t.Helper()
	n := newLeader(t, nil)
	for name, cluster := range customRoles {
		n.propose(&fsm.PutRole{Role: fsm.Role{Name: name, Cluster: cluster}})
	}
	for name, roles := range customUsers {
		hash, err := bcrypt.GenerateFromPassword([]byte(testPasswords[name]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		n.propose(&fsm.PutUser{User: fsm.User{Username: name, Hash: hash, Roles: roles, Enabled: true, Realm: fsm.NativeRealm}})
	}
	return n
}

// opsRole stores the custom role "ops", for a row that deletes it.
func opsRole(_ *testing.T, n *testNode) string {
	n.propose(&fsm.PutRole{Role: fsm.Role{Name: "ops", Cluster: []string{"monitor"}}})
	return ""
}

// aliceToken and aliceRefresh build bodies carrying a fresh token of alice.
func aliceToken(_ *testing.T, n *testNode) string {
	access, _ := n.issueDirect("alice", fsm.NativeRealm, 0)
	return fmt.Sprintf(`{"token":%q}`, access)
}

func aliceRefresh(_ *testing.T, n *testNode) string {
	_, refresh := n.issueDirect("alice", fsm.NativeRealm, 0)
	return fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh)
}

// savedSnapshot downloads a snapshot as elastic, to be uploaded again.
func savedSnapshot(t *testing.T, n *testNode) string {
	return string(n.do("GET", snapshotPath, "", authOf("elastic")...).want(t, 200).body)
}

// addServer adds a non-voter to the fake node's configuration.
func addServer(id string) func(*testing.T, *testNode) string {
	return func(_ *testing.T, n *testNode) string {
		n.node.set(func(f *fakeNode) {
			f.servers = append(f.servers, raftnode.Server{ID: id, Address: id + ":9300"})
		})
		return ""
	}
}

// routeChecks lists every route with who may and who may not use it.
// TestRoles_EveryRouteIsChecked fails when a route is missing here.
func routeChecks() []routeCheck {
	// A ready-made hash spares the server bcrypt's cost-10 hashing per row;
	// only a superuser may send one, so a user changing its own password
	// sends the password.
	pw := fmt.Sprintf(`{"password_hash":%q}`, storedHashes[10])
	own := `{"password":"alice-pw"}`
	var cs []routeCheck
	for _, p := range []string{"/_security", "/_xpack/security"} {
		token, user, role := p+"/oauth2/token", p+"/user/:name", p+"/role/:name"
		cs = append(cs,
			routeCheck{what: "get roles", method: "GET", pattern: p + "/role", may: "reader", mayStatus: 200,
				mayNot: []string{"alice", "monty", "tokman"}, action: actionGetRoles},
			routeCheck{what: "get a role", method: "GET", pattern: role, path: p + "/role/c_read", may: "reader", mayStatus: 200,
				mayNot: []string{"alice", "moni", "tokman"}, action: actionGetRoles},
			routeCheck{what: "delete role", method: "DELETE", pattern: role, path: p + "/role/ops", prepare: opsRole,
				may: "elastic", mayStatus: 200, mayNot: []string{"reader", "tokman", "monty"}, action: actionDeleteRole},
			routeCheck{what: "get users as reader", method: "GET", pattern: p + "/user", may: "reader", mayStatus: 200},
			routeCheck{what: "password grant", method: "POST", pattern: token, open: true, mayStatus: 200,
				body: `{"grant_type":"password","username":"alice","password":"alice-pw"}`},
			routeCheck{what: "client_credentials grant", method: "POST", pattern: token, may: "alice", mayStatus: 200,
				body: `{"grant_type":"client_credentials"}`},
			routeCheck{what: "refresh grant", method: "POST", pattern: token, open: true, mayStatus: 200, prepare: aliceRefresh},
			routeCheck{what: "invalidate own token", method: "DELETE", pattern: token, open: true, may: "alice", mayStatus: 200,
				prepare: aliceToken},
			routeCheck{what: "invalidate by username", method: "DELETE", pattern: token, body: `{"username":"alice"}`,
				may: "tokman", mayStatus: 200, mayNot: []string{"alice", "monty"}, action: actionInvalidate},
			routeCheck{what: "invalidate another user by username", method: "DELETE", pattern: token, body: `{"username":"tokman"}`,
				may: "elastic", mayStatus: 200, mayNot: []string{"alice"}, action: actionInvalidate},
			routeCheck{what: "invalidate by realm", method: "DELETE", pattern: token, body: `{"realm_name":"default_native"}`,
				may: "tokman", mayStatus: 200, mayNot: []string{"alice", "moni"}, action: actionInvalidate},
			routeCheck{what: "authenticate", method: "GET", pattern: p + "/_authenticate", may: "alice", mayStatus: 200},
			routeCheck{what: "get users", method: "GET", pattern: p + "/user", may: "elastic", mayStatus: 200,
				mayNot: []string{"alice", "monty", "tokman"}, action: actionGetUsers},
			routeCheck{what: "get own user", method: "GET", pattern: user, path: p + "/user/alice", may: "elastic", mayStatus: 200,
				mayNot: []string{"alice", "moni"}, action: actionGetUsers},
			routeCheck{what: "change own password", method: "PUT", pattern: user, path: p + "/user/_password", body: own,
				may: "alice", mayStatus: 200},
			routeCheck{what: "change own password", method: "POST", pattern: user, path: p + "/user/_password", body: own,
				may: "alice", mayStatus: 200},
			routeCheck{what: "delete user", method: "DELETE", pattern: user, path: p + "/user/alice", may: "elastic", mayStatus: 200,
				mayNot: []string{"alice", "tokman"}, action: actionDeleteUser},
		)
		for _, m := range []string{"PUT", "POST"} {
			cs = append(cs,
				routeCheck{what: "put role", method: m, pattern: role, path: p + "/role/ops", body: `{"cluster":["monitor"]}`,
					may: "elastic", mayStatus: 200, mayNot: []string{"reader", "tokman", "monty", "alice"}, action: actionPutRole},
				routeCheck{what: "create user", method: m, pattern: user, path: p + "/user/bob", may: "elastic", mayStatus: 200,
					body: fmt.Sprintf(`{"password_hash":%q,"roles":["superuser"]}`, storedHashes[10]), mayNot: []string{"alice", "tokman", "monty", "reader"}, action: actionPutUser},
				routeCheck{what: "change own password", method: m, pattern: user + "/_password", path: p + "/user/alice/_password",
					body: own, may: "alice", mayStatus: 200},
				routeCheck{what: "change another's password", method: m, pattern: user + "/_password", path: p + "/user/tokman/_password",
					body: pw, may: "elastic", mayStatus: 200, mayNot: []string{"alice", "monty"}, action: actionChangePassword},
				routeCheck{what: "enable user", method: m, pattern: user + "/_enable", path: p + "/user/alice/_enable",
					may: "elastic", mayStatus: 200, mayNot: []string{"alice", "tokman"}, action: actionSetEnabled},
				routeCheck{what: "disable user", method: m, pattern: user + "/_disable", path: p + "/user/alice/_disable",
					may: "elastic", mayStatus: 200, mayNot: []string{"moni", "tokman"}, action: actionSetEnabled},
			)
		}
	}
	for _, m := range forwardAuthMethods {
		cs = append(cs, routeCheck{what: "forward auth for envoy", method: m, pattern: forwardAuthPath + "/*path",
			path: forwardAuthPath + "/app/x", may: "alice", mayStatus: 200})
	}
	monitor := []string{"alice", "tokman"}
	return append(cs,
		routeCheck{what: "info", method: "GET", pattern: "/", may: "alice", mayStatus: 200},
		routeCheck{what: "info", method: "HEAD", pattern: "/", may: "alice", mayStatus: 200},
		routeCheck{what: "health", method: "GET", pattern: "/_cluster/health", may: "moni", mayStatus: 200,
			mayNot: monitor, action: "cluster:monitor/health"},
		routeCheck{what: "nodes info", method: "GET", pattern: "/_nodes/:first", path: "/_nodes/http", may: "moni", mayStatus: 200,
			mayNot: monitor, action: actionNodesInfo},
		routeCheck{what: "nodes info", method: "GET", pattern: "/_nodes/:first/:second", path: "/_nodes/_all/http", may: "monty", mayStatus: 200,
			mayNot: monitor, action: actionNodesInfo},
		routeCheck{what: "own privileges", method: "GET", pattern: "/_security/user/:name", path: "/_security/user/_privileges",
			may: "alice", mayStatus: 200},
		routeCheck{what: "has privileges", method: "POST", pattern: "/_security/user/:name", path: "/_security/user/_has_privileges",
			body: `{"cluster":["monitor"]}`, may: "alice", mayStatus: 200},
		routeCheck{what: "nodes", method: "GET", pattern: "/_tokend/cluster/nodes", may: "monty", mayStatus: 200,
			mayNot: monitor, action: actionNodes},
		routeCheck{what: "status", method: "GET", pattern: "/_tokend/cluster/status", may: "moni", mayStatus: 200,
			mayNot: monitor, action: actionStatus},
		routeCheck{what: "metrics", method: "GET", pattern: "/_prometheus/metrics", may: "monty", mayStatus: 200,
			mayNot: monitor, action: actionMetrics},
		routeCheck{what: "metrics", method: "GET", pattern: "/metrics", may: "moni", mayStatus: 200,
			mayNot: monitor, action: actionMetrics},
		routeCheck{what: "join", method: "POST", pattern: "/_tokend/cluster/join", may: "elastic", mayStatus: 200,
			body:   `{"node_id":"n9","raft_addr":"n9:9300","http_addr":"127.0.0.1:9"}`,
			mayNot: []string{"monty", "tokman", "alice"}, action: actionJoin},
		routeCheck{what: "create an enrollment token", method: "POST", pattern: enrollPath, may: "elastic", mayStatus: 200,
			mayNot: []string{"monty", "tokman", "alice"}, action: actionEnroll},
		routeCheck{what: "remove node", method: "DELETE", pattern: "/_tokend/cluster/nodes/:id", path: "/_tokend/cluster/nodes/n3",
			prepare: addServer("n3"), may: "elastic", mayStatus: 200, mayNot: []string{"monty", "tokman"}, action: actionRemove},
		routeCheck{what: "transfer leadership", method: "POST", pattern: "/_tokend/cluster/transfer_leader", body: `{"node_id":"n1"}`,
			may: "elastic", mayStatus: 200, mayNot: []string{"moni", "tokman"}, action: actionTransfer},
		routeCheck{what: "read index", method: "GET", pattern: "/_tokend/cluster/read_index", may: "elastic", mayStatus: 200,
			mayNot: []string{"monty", "alice"}, action: actionReadIndex},
		// Nodes only (node proof or cluster certificate): even a superuser
		// is refused; propose_test.go covers the nodes' side.
		routeCheck{what: "propose a batch", method: "POST", pattern: proposePath, open: true, may: "elastic", mayStatus: 403},
		routeCheck{what: "wait applied", method: "GET", pattern: "/_tokend/cluster/wait_applied", path: "/_tokend/cluster/wait_applied?index=1",
			may: "elastic", mayStatus: 200, mayNot: []string{"monty", "alice"}, action: actionWaitApplied},
		routeCheck{what: "snapshot save", method: "GET", pattern: snapshotPath, raft: true, may: "elastic", mayStatus: 200,
			mayNot: []string{"monty", "tokman", "alice"}, action: actionSnapshotSave},
		routeCheck{what: "snapshot restore", method: "PUT", pattern: snapshotPath, raft: true, prepare: savedSnapshot,
			may: "elastic", mayStatus: 200, mayNot: []string{"monty", "tokman", "alice"}, action: actionSnapshotRestore},
		// The OAuth routes take forms, which routeChecks does not send: an
		// admitted caller gets invalid_request for the missing token.
		routeCheck{what: "introspect", method: "POST", pattern: introspectPath, may: "elastic", mayStatus: 400,
			mayNot: []string{"alice", "tokman", "monty"}, action: actionIntrospect},
		routeCheck{what: "revoke", method: "POST", pattern: revokePath, open: true, mayStatus: 400},
		routeCheck{what: "server metadata", method: "GET", pattern: metadataPath, open: true, mayStatus: 200},
		routeCheck{what: "forward auth", method: "GET", pattern: forwardAuthPath, may: "alice", mayStatus: 200},
		routeCheck{what: "liveness", method: "GET", pattern: "/_tokend/healthz", open: true, mayStatus: 200},
		routeCheck{what: "readiness", method: "GET", pattern: "/_tokend/readyz", open: true, mayStatus: 200},
	)
}

// TestRoles_EachRouteAdmitsItsRoleAndRefusesOthers makes, per route, the
// request as users lacking the privilege (403 naming the action), without
// credentials (401) and as a user holding it.
func TestRoles_EachRouteAdmitsItsRoleAndRefusesOthers(t *testing.T) {
	t.Parallel()
	for _, c := range routeChecks() {
		t.Run(c.method+" "+c.pattern+" "+c.what, func(t *testing.T) { runRouteCheck(t, c) })
	}
}

// TestRoles_CustomRolesGrantAsTheirBuiltinTwins makes every request of
// routeChecks again with the seeded users replaced by their twins, whose
// custom roles name the same cluster privileges as the seeded users'
// built-in roles: each route admits and refuses them alike. c-elastic also
// names a role that does not exist, which grants nothing and refuses
// nothing.
func TestRoles_CustomRolesGrantAsTheirBuiltinTwins(t *testing.T) {
	t.Parallel()
	twin := func(u string) string {
		if _, ok := customUsers["c-"+u]; ok {
			return "c-" + u
		}
		return u
	}
	for _, c := range routeChecks() {
		if c.raft {
			continue // newRaftLeader has no custom roles; the fake node's rows cover the same check
		}
		c.may = twin(c.may)
		c.mayNot = slices.Clone(c.mayNot)
		for i, u := range c.mayNot {
			c.mayNot[i] = twin(u)
		}
		t.Run(c.method+" "+c.pattern+" "+c.what, func(t *testing.T) { runRouteCheck(t, c) })
	}
}

// runRouteCheck makes c's request as users lacking the privilege (403
// naming the action), without credentials (401) and as a user holding it.
func runRouteCheck(t *testing.T, c routeCheck) {
	if !c.raft {
		t.Parallel()
	}
	var n *testNode
	if c.raft {
		n = newRaftLeader(t).testNode
	} else {
		n = newRolesLeader(t)
	}
	body := c.body
	if c.prepare != nil {
		if b := c.prepare(t, n); b != "" {
			body = b
		}
	}
	path := c.path
	if path == "" {
		path = c.pattern
	}
	for _, u := range c.mayNot {
		r := n.do(c.method, path, body, authOf(u)...)
		r.wantError(t, http.StatusForbidden, "security_exception",
			fmt.Sprintf("action [%s] is unauthorized for user [%s]", c.action, u))
	}
	if !c.open {
		r := n.do(c.method, path, body)
		if c.method == http.MethodHead {
			r.want(t, http.StatusUnauthorized)
		} else {
			r.wantError(t, http.StatusUnauthorized, "security_exception",
				fmt.Sprintf("missing authentication credentials for REST request [%s]", path))
		}
	}
	n.do(c.method, path, body, authOf(c.may)...).want(t, c.mayStatus)
}

// TestRoles_EveryRouteIsChecked fails when the router serves a route that
// routeChecks does not list, or routeChecks lists one it does not serve.
func TestRoles_EveryRouteIsChecked(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	served := registeredRoutes(t, n.srv.routes())
	var listed []string
	for _, c := range routeChecks() {
		listed = append(listed, c.method+" "+c.pattern)
	}
	slices.Sort(listed)
	listed = slices.Compact(listed)
	for _, r := range served {
		if !slices.Contains(listed, r) {
			t.Errorf("route %s has no role check in routeChecks", r)
		}
	}
	for _, r := range listed {
		if !slices.Contains(served, r) {
			t.Errorf("routeChecks lists %s, which the router does not serve", r)
		}
	}
	if len(served) < 40 {
		t.Fatalf("found only %d routes; the router walk is broken: %v", len(served), served)
	}
}

// registeredRoutes walks httprouter's trees (unexported; read through
// reflect, since httprouter v1 offers no listing) and returns "METHOD path"
// for every registered handle, sorted.
func registeredRoutes(t *testing.T, rt *httprouter.Router) []string {
	t.Helper()
	trees := reflect.ValueOf(rt).Elem().FieldByName("trees")
	if !trees.IsValid() || trees.Kind() != reflect.Map {
		t.Fatal("httprouter.Router has no trees map: update registeredRoutes for this httprouter version")
	}
	var out []string
	for it := trees.MapRange(); it.Next(); {
		walkRoutes(t, it.Key().String(), "", it.Value(), &out)
	}
	slices.Sort(out)
	return out
}

// walkRoutes appends the routes under the tree node n (a *node) whose path
// continues prefix.
func walkRoutes(t *testing.T, method, prefix string, n reflect.Value, out *[]string) {
	if n.Kind() != reflect.Pointer || n.IsNil() {
		return
	}
	e := n.Elem()
	path, handle, children := e.FieldByName("path"), e.FieldByName("handle"), e.FieldByName("children")
	if !path.IsValid() || !handle.IsValid() || !children.IsValid() {
		t.Fatal("httprouter's tree node changed: update walkRoutes")
	}
	full := prefix + path.String()
	if !handle.IsNil() {
		*out = append(*out, method+" "+full)
	}
	for i := range children.Len() {
		walkRoutes(t, method, full, children.Index(i), out)
	}
}

// TestRoles_DeleteAndDisableEndAccessAndRefreshTokens: deleting or
// disabling a user through the API, in one log entry, ends all of its access
// tokens and refresh tokens, spent or not; they stay dead when the user
// comes back (re-created or re-enabled).
func TestRoles_DeleteAndDisableEndAccessAndRefreshTokens(t *testing.T) {
	t.Parallel()
	admin := authOf("elastic")
	hash, err := bcrypt.GenerateFromPassword([]byte("bob-secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bob := func() *fsm.PutUser {
		return &fsm.PutUser{User: fsm.User{Username: "bob", Hash: hash, Roles: []string{}, Enabled: true, Realm: fsm.NativeRealm}}
	}
	for _, c := range []struct{ what, method, path string }{
		{"delete", "DELETE", "/_security/user/bob"},
		{"disable", "POST", "/_security/user/bob/_disable"},
	} {
		t.Run(c.what, func(t *testing.T) {
			t.Parallel()
			n := newLeader(t, nil)
			n.propose(bob())
			access, refresh := n.passwordGrant("bob", "bob-secret")
			next := n.do("POST", "/_security/oauth2/token",
				fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh)).want(t, 200).json(t)
			access2, refresh2 := next["access_token"].(string), next["refresh_token"].(string)
			client := n.do("POST", "/_security/oauth2/token", `{"grant_type":"client_credentials"}`,
				basicAuth("bob", "bob-secret")...).want(t, 200).json(t)["access_token"].(string)

			before := proposalCount(n)
			n.do(c.method, c.path, "", admin...).want(t, 200)
			if got := proposalCount(n) - before; got != 1 {
				t.Fatalf("%s took %d log entries, want 1", c.what, got)
			}
			n.propose(bob()) // the user is back, under the same name and password
			n.do("GET", "/_security/_authenticate", "", basicAuth("bob", "bob-secret")...).want(t, 200)
			for _, tok := range []string{access, access2, client} {
				n.do("GET", "/_security/_authenticate", "", bearer(tok)...).wantError(t, 401, "security_exception", "token expired")
			}
			for _, tok := range []string{refresh, refresh2} {
				n.do("POST", "/_security/oauth2/token", fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, tok)).
					wantOAuth(t, "invalid_grant", "token has been invalidated")
			}
		})
	}
}

// proposalCount is how many proposals n's fake node has received.
func proposalCount(n *testNode) int {
	n.node.mu.Lock()
	defer n.node.mu.Unlock()
	return len(n.node.proposals)
}
