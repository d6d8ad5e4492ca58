package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestTypedV8_EveryEndpoint drives every endpoint tokend implements through
// go-elasticsearch/v8's typed client against three real nodes.
func TestTypedV8_EveryEndpoint(t *testing.T) { coverTypedAPI(t, newTypedV8) }

// TestTypedV9_EveryEndpoint does the same through go-elasticsearch/v9.
func TestTypedV9_EveryEndpoint(t *testing.T) { coverTypedAPI(t, newTypedV9) }

// typedRun is one client version's run against one cluster.
type typedRun struct {
	t      *testing.T
	ctx    context.Context
	nodes  []*proc
	newAPI newTypedAPI
	admin  typedAPI // elastic, on every node
}

// Users the coverage creates, with their first and second passwords.
const (
	alicePW1, alicePW2 = "alice-pw-1", "alice-pw-2"
	bobPW1, bobPW2     = "bob-pw-1", "bob-pw-2"
)

// coverTypedAPI runs the whole coverage with one client version.
func coverTypedAPI(t *testing.T, newAPI newTypedAPI) {
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := &typedRun{t: t, ctx: ctx, nodes: nodes, newAPI: newAPI}
	r.admin = r.client(nil, "elastic", superPassword, nil)
	r.cluster()
	r.users()
	r.tokens()
	r.privileges()
	r.passwords()
	r.enableDisableDelete()
}

// client is a typed client on the given nodes (all for nil).
func (r *typedRun) client(on []*proc, user, pw string, h http.Header) typedAPI {
	r.t.Helper()
	if on == nil {
		on = r.nodes
	}
	var addrs []string
	for _, p := range on {
		addrs = append(addrs, p.URL())
	}
	c, err := r.newAPI(addrs, user, pw, h)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// bearer is a typed client on node i that sends the access token.
func (r *typedRun) bearer(i int, token string) typedAPI {
	return r.client(r.nodes[i:i+1], "", "", http.Header{"Authorization": {"Bearer " + token}})
}

// ok fails the test on err, naming the call.
func (r *typedRun) ok(call string, err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatalf("%s: %v", call, err)
	}
}

// refused checks that err is an error answer with the status.
func (r *typedRun) refused(call string, err error, status int) {
	r.t.Helper()
	if got := r.admin.Status(err); got != status {
		r.t.Fatalf("%s: want an error answer with status %d, got %v", call, status, err)
	}
}

// whoIs checks that c authenticates as user by realm (Basic) or token.
func (r *typedRun) whoIs(c typedAPI, user, authType string) {
	r.t.Helper()
	who, err := c.Authenticate(r.ctx)
	r.ok("Authenticate", err)
	if who.Username != user || who.AuthenticationType != authType || !who.Enabled {
		r.t.Fatalf("Authenticate: want %s by %s, got %+v", user, authType, who)
	}
}

// cluster covers Ping, Info, Cluster.Health and Nodes.Info.
func (r *typedRun) cluster() {
	up, err := r.admin.Ping(r.ctx)
	if err != nil || !up {
		r.t.Fatalf("Ping: %v %v", up, err)
	}
	for _, p := range r.nodes {
		info, err := r.client([]*proc{p}, "elastic", superPassword, nil).Info(r.ctx)
		r.ok("Info", err)
		if info.Name != p.id || info.ClusterName != "tokend" || info.Tagline != "You Know, for Search" ||
			info.Version.BuildFlavor != "default" || info.Version.Number == "" || info.Version.BuildHash == "" {
			r.t.Fatalf("Info from %s: %+v", p.id, info)
		}
	}
	h, err := r.admin.Health(r.ctx, "3")
	r.ok("Cluster.Health", err)
	if h.Status != "green" || h.NumberOfNodes != 3 || h.TimedOut || h.ClusterName != "tokend" {
		r.t.Fatalf("Cluster.Health(wait_for_status=green, wait_for_nodes=3): %+v", h)
	}
	for _, selector := range []string{"", "_all"} {
		doc, err := r.admin.NodesHTTP(r.ctx, selector)
		r.ok("Nodes.Info "+selector+"/http", err)
		if len(doc.Nodes) != len(r.nodes) {
			r.t.Fatalf("Nodes.Info %s/http: %d nodes: %+v", selector, len(doc.Nodes), doc)
		}
		for _, p := range r.nodes {
			n := doc.Nodes[p.id]
			if n.Name != p.id || n.HTTP.PublishAddress != p.httpAddr || !slices.Contains(n.Roles, "master") {
				r.t.Fatalf("Nodes.Info %s/http, %s: %+v", selector, p.id, n)
			}
		}
	}
}

// users covers PutUser (username in the body) and GetUser.
func (r *typedRun) users() {
	alice := userQuery{Password: alicePW1, Roles: []string{"monitor"}, FullName: "Alice Liddell",
		Email: "alice@example.com", Metadata: map[string]json.RawMessage{"team": json.RawMessage(`"red"`)}}
	created, err := r.admin.PutUser(r.ctx, "alice", alice)
	r.ok("PutUser alice", err)
	alice.Password, alice.FullName = "", "Alice P. Liddell"
	again, err := r.admin.PutUser(r.ctx, "alice", alice)
	r.ok("PutUser alice again, no password", err)
	bob, err := r.admin.PutUser(r.ctx, "bob", userQuery{Password: bobPW1, Roles: []string{"token_manager"}})
	r.ok("PutUser bob", err)
	if !created || again || !bob {
		r.t.Fatalf("PutUser created: alice %v, alice again %v, bob %v", created, again, bob)
	}
	one, err := r.admin.GetUsers(r.ctx, "alice")
	r.ok("GetUser alice", err)
	a := one["alice"]
	if len(one) != 1 || a.Username != "alice" || !slices.Equal(a.Roles, []string{"monitor"}) || !a.Enabled ||
		a.FullName == nil || *a.FullName != "Alice P. Liddell" || a.Email == nil || *a.Email != "alice@example.com" ||
		string(a.Metadata["team"]) != `"red"` {
		r.t.Fatalf("GetUser alice: %+v", one)
	}
	two, err := r.admin.GetUsers(r.ctx, "alice", "bob")
	r.ok("GetUser alice,bob", err)
	all, err := r.admin.GetUsers(r.ctx)
	r.ok("GetUser", err)
	if len(two) != 2 || !slices.Equal(two["bob"].Roles, []string{"token_manager"}) ||
		all["elastic"].Username != "elastic" || all["alice"].Username != "alice" || all["bob"].Username != "bob" {
		r.t.Fatalf("GetUser alice,bob: %+v; all: %+v", two, all)
	}
}
