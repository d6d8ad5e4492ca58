package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
	"github.com/tokend/tokend/raftnode/peerauth"
)

// startRaftNode serves the API of a real single-node Raft cluster on
// 127.0.0.1, wired as cmd/tokend wires it: one registry for the node (its
// own metrics and the process-wide library metrics) and the API. The test
// users are seeded.
func startRaftNode(t *testing.T) *testNode {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	reg, state := prometheus.NewPedanticRegistry(), fsm.New()
	rn, err := raftnode.Open(raftnode.Config{NodeID: "r1", RaftBind: "127.0.0.1:0", DataDir: t.TempDir(), Logger: logger,
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		LeaderLeaseTimeout: 200 * time.Millisecond, Metrics: reg,
		Credential: peerauth.NewCredential([]byte(testSecret + "-raft-credential"))}, state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rn.Shutdown() })
	if err := rn.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the node leads", rn.IsLeader)
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	srv, err := New(Config{NodeID: "r1", HTTPAdvertise: ts.Listener.Addr().String(), Logger: logger,
		Metrics: reg}, rn, state)
	if err != nil {
		t.Fatal(err)
	}
	h = srv.Handler()
	for _, u := range testUsers {
		hash, _ := bcrypt.GenerateFromPassword([]byte(u.password), bcrypt.MinCost)
		c := &fsm.PutUser{User: fsm.User{Username: u.name, Hash: hash, Roles: u.roles, Enabled: true, Realm: u.realm}}
		if _, _, err := srv.commits.propose(context.Background(), nil, c); err != nil {
			t.Fatal(err)
		}
	}
	return &testNode{t: t, srv: srv, ts: ts}
}

func TestMetrics_RealNodeExposesRaftNodeAndTokenMetrics(t *testing.T) {
	t.Parallel()
	n := startRaftNode(t)
	monty := basicAuth("monty", "monty-pw")
	before, _ := n.scrapeMetrics("/_prometheus/metrics", monty...)

	access, refresh := n.passwordGrant("alice", "alice-pw")
	n.do("DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, access)).want(t, 200)
	n.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 401)
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "not-her-password")...).want(t, 401)

	after, body := n.scrapeMetrics("/_prometheus/metrics", monty...)
	grew := func(name string, by float64, labels ...string) {
		t.Helper()
		if d := after.Sum(name, labels...) - before.Sum(name, labels...); d < by {
			t.Errorf("%s%v grew by %v, want at least %v", name, labels, d, by)
		}
	}
	// Raft's library metrics (process-wide) and the node's own.
	grew("tokend_raft_commit_time_seconds_count", 2)
	grew("tokend_raft_apply_total", 2)
	grew("tokend_raft_boltdb_store_logs_seconds_count", 2)
	grew("tokend_node_propose_seconds_count", 2)
	wantCount(t, after, 1, "tokend_node_raft_state", "state", "leader")
	wantCount(t, after, 0, "tokend_node_last_contact_seconds")
	if v, _ := after.Value("tokend_node_commit_index"); v < 5 {
		t.Errorf("commit index %v", v)
	}
	// The API's counters moved with what happened.
	grew("tokend_tokens_issued_total", 1, "grant_type", "password")
	grew("tokend_tokens_invalidated_total", 1, "cause", "access_token")
	grew("tokend_auth_failures_total", 1, "reason", "invalidated")
	grew("tokend_auth_failures_total", 1, "reason", "bad_password")
	for _, secret := range []string{access, refresh, "alice-pw", "not-her-password", "monty-pw"} {
		if strings.Contains(body, secret) {
			t.Errorf("metrics contain %q", secret)
		}
	}
}
