package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/cluster"
	"github.com/tokend/tokend/raftnode/peerauth"

	"github.com/tokend/tokend/test/testkit"
)

// Test users, seeded with bcrypt hashes at the minimum cost so that tests
// stay fast; production hashes use cost 10.
var testUsers = []struct {
	name, password string
	roles          []string
	realm          fsm.Realm
}{
	{"elastic", "elastic-pw", []string{"superuser"}, fsm.ReservedRealm},
	{"alice", "alice-pw", nil, fsm.NativeRealm},
	{"monty", "monty-pw", []string{"monitoring_user"}, fsm.NativeRealm},
	{"tokman", "tokman-pw", []string{"token_manager"}, fsm.NativeRealm},
}

// testSecret is the node credential of test nodes.
const testSecret = "test-node-secret-0123"

// testNode is a Server with its fake node behind a real HTTP listener.
type testNode struct {
	t    *testing.T
	srv  *Server
	node *fakeNode
	ts   *httptest.Server
}

// startNode serves node's API on a local listener.
func startNode(t *testing.T, node *fakeNode, mod func(*Config)) *testNode {
	t.Helper()
	return startNodeWith(t, node, mod, func(cfg Config) (*Server, error) { return New(cfg, node, node.state) })
}

// startNodeWith serves node's API, built by build from the test
// configuration, on a local listener.
func startNodeWith(t *testing.T, node *fakeNode, mod func(*Config), build func(Config) (*Server, error)) *testNode {
	t.Helper()
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	// RequestTimeout is production's: a forwarded write waits on the
	// leader's bcrypt check, which under -race on a loaded machine can take
	// seconds; the tests of an unreachable leader are refused at once.
	cfg := Config{NodeID: node.id, HTTPAdvertise: ts.Listener.Addr().String(), Credential: peerauth.NewCredential([]byte(testSecret)),
		RequestTimeout: cluster.DefaultRequestTimeout, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: node.log.clock.now}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h = srv.Handler()
	return &testNode{t: t, srv: srv, node: node, ts: ts}
}

// newLeader starts a seeded single-node cluster.
func newLeader(t *testing.T, mod func(*Config)) *testNode {
	t.Helper()
	n := startNode(t, newFakeLeader("n1"), mod)
	n.seed()
	return n
}

// seed initialises n's cluster with the test users, straight through its
// fake node.
func (n *testNode) seed() {
	n.t.Helper()
	n.propose(&fsm.InitCluster{UUID: "test-uuid"})
	n.propose(&fsm.SetNode{NodeID: "n1", HTTPAddr: n.srv.cfg.HTTPAdvertise})
	for _, u := range testUsers {
		hash, err := bcrypt.GenerateFromPassword([]byte(u.password), bcrypt.MinCost)
		if err != nil {
			n.t.Fatal(err)
		}
		n.propose(&fsm.PutUser{User: fsm.User{Username: u.name, Hash: hash, Roles: u.roles, Enabled: true, Realm: u.realm}})
	}
}

// newFollower starts a follower n2 of leader, caught up with its log.
func newFollower(t *testing.T, leader *testNode) *testNode {
	t.Helper()
	return newFollowerNamed(t, leader, "n2")
}

// newFollowerNamed starts a follower with the given ID, caught up.
func newFollowerNamed(t *testing.T, leader *testNode, id string) *testNode {
	t.Helper()
	n := startNode(t, newFakeFollower(id, leader.node), nil)
	leader.propose(&fsm.SetNode{NodeID: id, HTTPAddr: n.srv.cfg.HTTPAdvertise})
	if err := n.node.WaitApplied(context.Background(), leader.node.logLen()); err != nil {
		t.Fatal(err)
	}
	return n
}

// propose applies c through the fake node directly, bypassing the API; a
// zero Time is stamped with the cluster's clock.
func (n *testNode) propose(c fsm.Command) fsm.Result {
	n.t.Helper()
	if c.Header().Time == 0 {
		c.Header().Time = n.node.log.clock.now().UnixMilli()
	}
	c.Header().ID = cluster.NewRequestID()
	res, _, err := n.node.Propose(context.Background(), c)
	if err != nil {
		n.t.Fatal(err)
	}
	return res
}

// issueDirect creates a token pair for user straight in the state and
// returns the access and refresh tokens. Then it moves the cluster's clock
// ago on, so that the pair is that old (and so is everything before it):
// time in the log never runs backwards, so a pair cannot be made old by
// stamping it in the past.
func (n *testNode) issueDirect(user string, realm fsm.Realm, ago time.Duration) (string, string) {
	n.t.Helper()
	access, ad := credentials.NewToken(credentials.AccessPrefix)
	refresh, rd := credentials.NewToken(credentials.RefreshPrefix)
	c := &fsm.CreateToken{Access: ad, Refresh: rd, User: user, Realm: realm, Lifetime: (20 * time.Minute).Milliseconds()}
	if res := n.propose(c); res.Status != fsm.OK {
		n.t.Fatalf("CreateToken for %s: %v", user, res.Status)
	}
	n.node.log.clock.advance(ago)
	return access, refresh
}

// resp is a captured response.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to n with an optional JSON body and header pairs.
func (n *testNode) do(method, path, body string, hdr ...string) resp {
	n.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, n.ts.URL+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Authorization" { // may repeat, on purpose
			req.Header.Add(hdr[i], hdr[i+1])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		n.t.Fatal(err)
	}
	if res.Header.Get("X-Elastic-Product") != "Elasticsearch" {
		n.t.Fatalf("%s %s: no X-Elastic-Product header (%d %s)", method, path, res.StatusCode, b)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// json decodes the body as an object.
func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// want fails unless the response has the status.
func (r resp) want(t *testing.T, status int) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// wantError checks an Elasticsearch envelope: status, type and reason.
func (r resp) wantError(t *testing.T, status int, typ, reason string) {
	t.Helper()
	r.want(t, status)
	want := fmt.Sprintf(`{"error":{"root_cause":[{"type":%q,"reason":%q}],"type":%q,"reason":%q},"status":%d}`,
		typ, reason, typ, reason, status)
	if string(r.body) != want {
		t.Fatalf("body\n got %s\nwant %s", r.body, want)
	}
}

// wantOAuth checks an OAuth error: 400 and exactly error and
// error_description.
func (r resp) wantOAuth(t *testing.T, code, description string) {
	t.Helper()
	r.want(t, http.StatusBadRequest)
	want := fmt.Sprintf(`{"error":%q,"error_description":%q}`, code, description)
	if string(r.body) != want {
		t.Fatalf("body\n got %s\nwant %s", r.body, want)
	}
}

// basicAuth and bearer build Authorization header pairs for do.
func basicAuth(user, pw string) []string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pw)
	return []string{"Authorization", r.Header.Get("Authorization")}
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// passwordGrant gets a token pair through the API.
func (n *testNode) passwordGrant(user, pw string, hdr ...string) (access, refresh string) {
	n.t.Helper()
	r := n.do("POST", "/_security/oauth2/token",
		fmt.Sprintf(`{"grant_type":"password","username":%q,"password":%q}`, user, pw), hdr...).want(n.t, 200)
	m := r.json(n.t)
	access, _ = m["access_token"].(string)
	refresh, _ = m["refresh_token"].(string)
	return access, refresh
}

// eventually polls cond until it holds or the timeout passes
// (testkit.Eventually, for a condition without a reason).
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, timeout, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

// errNotYet is what eventually reports of a condition that never held.
var errNotYet = errors.New("the condition does not hold")

// storedHashes are bcrypt hashes of random passwords nobody knows, by cost,
// for tests that store a hash of a given cost without paying to make one.
var storedHashes = map[int]string{
	10: "$2a$10$hds/EjiIfRHCEZnIo1lXZeNKRu0TIPxiZK4jPyIHHBQegYiMH31qK",
	11: "$2a$11$bmH/CuE11hgqtVj5GIC.UOznJWixD44Oqa7QeNmNHSRxDJ4CrRXDK",
	14: "$2a$14$8UGoRqAJI8ub7ljnOZLcAu/Me2AUEFr9FvhiTlz0s8/DhTm/H599a",
}

// passwordsWith replaces n's password verifier with one made as New makes
// it, then configured by mod; call it before any request.
func (n *testNode) passwordsWith(mod func(*credentials.Config)) *credentials.Verifier {
	n.t.Helper()
	cfg := credentials.Config{State: n.srv.state, CatchUp: n.srv.reads.CatchUp, Credential: n.srv.cfg.Credential, Log: n.srv.log}
	mod(&cfg)
	n.srv.gate.passwords = credentials.NewVerifier(cfg)
	return n.srv.gate.passwords
}
