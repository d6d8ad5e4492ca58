package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
)

func TestInfo_GetAndHead(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	m := n.do("GET", "/", "", basicAuth("alice", "alice-pw")...).want(t, 200).json(t)
	v := m["version"].(map[string]any)
	if m["name"] != "n1" || m["cluster_name"] != "tokend" || m["cluster_uuid"] != "test-uuid" || m["tagline"] != "You Know, for Search" ||
		v["number"] != "7.17.0" || v["build_flavor"] != "default" {
		t.Fatalf("info: %v", m)
	}
	if r := n.do("HEAD", "/", "", basicAuth("alice", "alice-pw")...).want(t, 200); len(r.body) != 0 {
		t.Fatalf("HEAD body: %q", r.body)
	}
	if r := n.do("HEAD", "/", "").want(t, 401); len(r.body) != 0 {
		t.Fatalf("HEAD 401 body: %q", r.body)
	}
	n.do("GET", "/", "").want(t, 401)
}

func TestRouter_UnknownPathAndWrongMethodUseTheEnvelope(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	n.do("GET", "/_nope", "").wantError(t, 404, "resource_not_found_exception", "no handler found for uri [/_nope] and method [GET]")
	r := n.do("DELETE", "/", "")
	r.wantError(t, 405, "method_not_allowed_exception", "Incorrect HTTP method for uri [/] and method [DELETE], allowed: [GET, HEAD, OPTIONS]")
	if r.header.Get("Allow") == "" {
		t.Fatal("405 without Allow")
	}
}

func TestMiddleware_RecoversPanicsWithTheProductHeader(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	h := n.srv.middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 || rec.Header().Get("X-Elastic-Product") != "Elasticsearch" || !strings.Contains(rec.Body.String(), `"status":500`) {
		t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

func TestMediaTypes(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	body := `{"grant_type":"password","username":"alice","password":"alice-pw"}`
	compat := "application/vnd.elasticsearch+json; compatible-with=8"
	n.do("POST", "/_security/oauth2/token", body, "Content-Type", compat, "Accept", compat).want(t, 200)
	n.do("POST", "/_security/oauth2/token", body, "Content-Type", "text/plain").wantError(t, 406, "media_type_header_exception",
		"Content-Type header [text/plain] is not supported")
	n.do("POST", "/_security/oauth2/token", body, "Accept", "application/vnd.elasticsearch+json;compatible-with=6").want(t, 400)
	big := `{"grant_type":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	n.do("POST", "/_security/oauth2/token", big).want(t, 413)
}

func TestHealth(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	monty := basicAuth("monty", "monty-pw")
	m := n.do("GET", "/_cluster/health", "", monty...).want(t, 200).json(t)
	raft := m["raft"].(map[string]any)
	if m["status"] != "green" || m["number_of_nodes"] != float64(1) || m["timed_out"] != false || raft["leader_id"] != "n1" {
		t.Fatalf("health: %v", m)
	}
	n.do("GET", "/_cluster/health?wait_for_status=green&timeout=1s", "", monty...).want(t, 200)
	// A second voter that cannot be reached (it has not registered its HTTP
	// address) leaves one voter of two: no quorum, red.
	n.node.set(func(f *fakeNode) { f.servers = append(f.servers, raftnode.Server{ID: "n2", Voter: true}) })
	start := time.Now()
	m = n.do("GET", "/_cluster/health?wait_for_status=yellow&timeout=300ms", "", monty...).want(t, 408).json(t)
	if m["status"] != "red" || m["timed_out"] != true || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("timed out health: %v after %v", m, time.Since(start))
	}
	n.do("GET", "/_cluster/health?wait_for_status=red", "", monty...).want(t, 200)
	n.do("GET", "/_cluster/health?wait_for_status=blue", "", monty...).wantError(t, 400, "illegal_argument_exception",
		"unknown cluster health status [blue]")
	n.do("GET", "/_cluster/health?wait_for_status=green&timeout=soon", "", monty...).want(t, 400)
}

func TestParseTimeValue(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"30s": 30 * time.Second, "500ms": 500 * time.Millisecond, "1m": time.Minute, "2h": 2 * time.Hour, "1.5s": 1500 * time.Millisecond} {
		if got, err := parseTimeValue(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "10", "s", "-1s", "1w"} {
		if _, err := parseTimeValue(in); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}

func TestJoin_NodeProofOrSuperuser(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	body := `{"node_id":"n2","raft_addr":"10.0.0.2:9300","http_addr":"10.0.0.2:9200"}`
	r := n.do("POST", "/_tokend/cluster/join", body, n.proofFor("", "POST", "/_tokend/cluster/join", body)...).want(t, 200)
	if m := r.json(t); m["acknowledged"] != true || m["node_credential"] != testSecret {
		t.Fatalf("join: %s", r.body)
	}
	if addr, _ := n.srv.state.NodeAddr("n2"); addr != "10.0.0.2:9200" || len(n.node.joins) != 1 {
		t.Fatalf("after join: addr %q, joins %v", addr, n.node.joins)
	}
	wrong := n.proofFor("", "POST", "/_tokend/cluster/join", `{"node_id":"other"}`)
	n.do("POST", "/_tokend/cluster/join", body, wrong...).wantError(t, 401, "security_exception",
		"invalid node authentication: node proof does not match")
	n.do("POST", "/_tokend/cluster/join", body, headerNodeSecret, testSecret).wantError(t, 401, "security_exception",
		"X-Tokend-Node-Secret is not accepted: nodes sign their requests with X-Tokend-Node-Auth")
	n.do("POST", "/_tokend/cluster/join", body, basicAuth("alice", "alice-pw")...).want(t, 403)
	n.do("POST", "/_tokend/cluster/join", body, basicAuth("elastic", "elastic-pw")...).want(t, 200)
	n.do("POST", "/_tokend/cluster/join", `{"node_id":"n3"}`, n.proofFor("", "POST", "/_tokend/cluster/join", `{"node_id":"n3"}`)...).wantError(t, 400,
		"action_request_validation_exception", "Validation Failed: 1: raft_addr is missing;2: http_addr is missing;")
}

func TestNodesAndRemove(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	admin := basicAuth("elastic", "elastic-pw")
	join := `{"node_id":"n2","raft_addr":"h2:9300","http_addr":"h2:9200"}`
	n.do("POST", "/_tokend/cluster/join", join, n.proofFor("", "POST", "/_tokend/cluster/join", join)...).want(t, 200)
	r := n.do("GET", "/_tokend/cluster/nodes", "", admin...).want(t, 200)
	want := `{"leader":"n1","nodes":[{"id":"n1","raft_addr":"n1:9300","http_addr":"` + n.srv.cfg.HTTPAdvertise +
		`","voter":true,"leader":true,"state":"leader","last_contact_ms":0,"applied_index":7,"role":"voter","lag_entries":0,` +
		`LEASE,"reachable":true},` +
		`{"id":"n2","raft_addr":"h2:9300","http_addr":"h2:9200","voter":false,"leader":false,"state":"unknown",` +
		`"last_contact_ms":null,"applied_index":null,"role":"non-voter","lag_entries":null,"lease_held":false,"lease_left_ms":0,"reachable":false}]}`
	// The leader's own lease is short (half a second) and renewed
	// only while reads use it: whether it is still held when the answer is
	// made depends on the machine's speed, so only its consistency is
	// compared (held exactly when time is left).
	leaderLease := regexp.MustCompile(`"lease_held":(true|false),"lease_left_ms":([0-9]+),"reachable":true`)
	m := leaderLease.FindSubmatch(r.body)
	if m == nil || (string(m[1]) == "true") != (string(m[2]) != "0") {
		t.Fatalf("leader's lease in\n%s", r.body)
	}
	if got := leaderLease.ReplaceAllString(string(r.body), `LEASE,"reachable":true`); got != want {
		t.Fatalf("nodes\n got %s\nwant %s", r.body, want)
	}
	n.do("DELETE", "/_tokend/cluster/nodes/n9", "", admin...).wantError(t, 404, "resource_not_found_exception",
		"node [n9] is not a member of the cluster")
	n.do("DELETE", "/_tokend/cluster/nodes/n2", "", admin...).want(t, 200)
	if _, ok := n.srv.state.NodeAddr("n2"); ok || len(n.node.removed) != 1 {
		t.Fatalf("n2 still known: removed %v", n.node.removed)
	}
}

func TestReadIndexHealthzReadyz(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	n.do("GET", "/_tokend/cluster/read_index", "").want(t, 401)
	m := n.do("GET", "/_tokend/cluster/read_index", "", n.proofFor("n1", "GET", "/_tokend/cluster/read_index", "")...).want(t, 200).json(t)
	if m["index"] != float64(n.node.logLen()) {
		t.Fatalf("read_index: %v", m)
	}
	n.do("GET", "/_tokend/cluster/read_index", "", basicAuth("elastic", "elastic-pw")...).want(t, 200)

	if r := n.do("GET", "/_tokend/healthz", "").want(t, 200); string(r.body) != `{"status":"ok"}` {
		t.Fatalf("healthz: %s", r.body)
	}
	n.do("GET", "/_tokend/readyz", "").want(t, 200)
	n.node.set(func(f *fakeNode) { f.leader, f.leaderID = false, "" })
	if r := n.do("GET", "/_tokend/readyz", "").want(t, 503); !strings.Contains(string(r.body), `"reason":"not ready: no leader is elected yet`) {
		t.Errorf("readyz without a leader: %s", r.body)
	}
	n.do("GET", "/_tokend/healthz", "").want(t, 200)
}

func TestBootstrap_CreatesElasticWithAGeneratedPassword(t *testing.T) {
	t.Parallel()
	n := startNode(t, newFakeLeader("n1"), nil)
	pw, err := n.srv.Bootstrap(context.Background(), "")
	if err != nil || len(pw) < 20 {
		t.Fatalf("Bootstrap: %q %v", pw, err)
	}
	u, ok := n.srv.state.User("elastic")
	if !ok || u.Realm != fsm.ReservedRealm || !u.Enabled || len(u.Roles) != 1 || u.Roles[0] != "superuser" || n.srv.state.ClusterUUID() == "" {
		t.Fatalf("elastic: %+v uuid %q", u, n.srv.state.ClusterUUID())
	}
	n.do("GET", "/", "", basicAuth("elastic", pw)...).want(t, 200)
	if _, err := n.srv.Bootstrap(context.Background(), "short"); err == nil {
		t.Fatal("Bootstrap accepted a 5-byte password")
	}
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	ok := Config{NodeID: "n1", HTTPAdvertise: "10.0.0.1:9200"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"no node id":         func(c *Config) { c.NodeID = "" },
		"no port":            func(c *Config) { c.HTTPAdvertise = "10.0.0.1" },
		"unspecified":        func(c *Config) { c.HTTPAdvertise = "0.0.0.0:9200" },
		"timeout over 1h":    func(c *Config) { c.TokenTimeout = 2 * time.Hour },
		"timeout under 1s":   func(c *Config) { c.TokenTimeout = time.Millisecond },
		"negative req limit": func(c *Config) { c.RequestTimeout = -time.Second },
		"negative purge":     func(c *Config) { c.PurgeInterval = -time.Minute },
		"metrics not served": func(c *Config) {
			c.Metrics = prometheus.WrapRegistererWith(prometheus.Labels{"node": "n1"}, prometheus.NewRegistry())
		},
	} {
		c := ok
		mod(&c)
		if c.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestHealth_GreenWithEveryVoterUpYellowWhenOneIsDownRedWithoutQuorum(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	n2 := newFollower(t, leader)
	n3 := newFollowerNamed(t, leader, "n3")
	admin := basicAuth("elastic", "elastic-pw")
	for _, n := range []*testNode{leader, n3} {
		m := n.do("GET", "/_cluster/health", "", admin...).want(t, 200).json(t)
		if m["status"] != "green" || m["number_of_nodes"] != float64(3) {
			t.Fatalf("%s: %v", n.node.id, m)
		}
	}
	leader.do("GET", "/_cluster/health?wait_for_nodes=3&timeout=1s", "", admin...).want(t, 200)
	n2.ts.Close()
	for _, n := range []*testNode{leader, n3} {
		m := n.do("GET", "/_cluster/health", "", admin...).want(t, 200).json(t)
		if m["status"] != "yellow" || m["number_of_nodes"] != float64(2) || m["number_of_data_nodes"] != float64(2) {
			t.Fatalf("%s with one voter of three down: %v", n.node.id, m)
		}
	}
	for q, status := range map[string]int{"3": 408, ">=3": 408, "ge(2)": 200, "<3": 200, "lt(2)": 408, "2": 200} {
		if r := leader.do("GET", "/_cluster/health?timeout=200ms&wait_for_nodes="+url.QueryEscape(q), "", admin...); r.status != status {
			t.Errorf("wait_for_nodes=%s with 2 of 3 up: %d %s, want %d", q, r.status, r.body, status)
		}
	}
	if r := leader.do("GET", "/_cluster/health?wait_for_nodes=many", "", admin...).want(t, 400); !strings.Contains(string(r.body), "cannot parse wait_for_nodes [many]") {
		t.Errorf("bad wait_for_nodes: %s", r.body)
	}
	n3.ts.Close()
	if m := leader.do("GET", "/_cluster/health", "", admin...).want(t, 200).json(t); m["status"] != "red" {
		t.Fatalf("with two voters of three down: %v", m)
	}
	leader.node.set(func(f *fakeNode) { f.leader, f.leaderID = false, "" })
	if m := leader.do("GET", "/_cluster/health", "", "Authorization", admin[1]).want(t, 200).json(t); m["status"] != "red" {
		t.Fatalf("without a leader: %v", m)
	}
}

// Bootstrap records the leader's HTTP address before it creates the elastic
// user. In between, the node says it is not ready, so that a joiner or a
// client waiting for readyz is not sent to log in as elastic and refused.
func TestReadyz_NotReadyUntilTheElasticUserExists(t *testing.T) {
	t.Parallel()
	n := startNode(t, newFakeLeader("n1"), nil)
	n.propose(&fsm.InitCluster{UUID: "test-uuid"})
	n.propose(&fsm.SetNode{NodeID: "n1", HTTPAddr: n.srv.cfg.HTTPAdvertise})
	n.do("GET", "/_tokend/readyz", "").wantError(t, 503, "status_exception",
		"not ready: the cluster is being initialised (the elastic user does not exist yet)")
	n.propose(&fsm.PutUser{User: fsm.User{Username: "elastic", Hash: []byte(storedHashes[10]), Roles: []string{"superuser"},
		Enabled: true, Realm: fsm.ReservedRealm}})
	n.do("GET", "/_tokend/readyz", "").want(t, 200)
}
