package api

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
)

// serveFrom sends a request to n's handler as if it came from remote
// (ip:port), so that tests can play clients at different addresses.
func (n *testNode) serveFrom(remote, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	n.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = remote
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	n.srv.Handler().ServeHTTP(w, req)
	return w
}

// Issue 17 item 5: read_index makes the leader check its leadership with a
// quorum and reveals the commit index, and wait_applied holds a goroutine
// for up to the request timeout. Neither is open to an anonymous or
// ordinary caller, whether or not --node-secret was given, and with a
// cluster CA not even to a superuser without a cluster certificate.
func TestNodeRoutes_ReadIndexAndWaitAppliedNeedANode(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"without --node-secret": func(c *Config) { c.NodeSecret = "" },
		"with --cluster-ca": func(c *Config) {
			c.NodeSecret, c.ClusterCA = "", []*x509.Certificate{{Raw: []byte("cluster CA")}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			leader := newLeader(t, mod)
			for _, path := range []string{"/_tokend/cluster/read_index", "/_tokend/cluster/wait_applied?index=1&timeout=10s"} {
				for who, hdr := range map[string][]string{"anonymous": nil, "alice": basicAuth("alice", "alice-pw")} {
					if r := leader.do("GET", path, "", hdr...); r.status != http.StatusUnauthorized && r.status != http.StatusForbidden {
						t.Errorf("%s by %s: %d %s", path, who, r.status, r.body)
					}
				}
				r := leader.do("GET", path, "", basicAuth("elastic", "elastic-pw")...)
				if strings.Contains(name, "cluster-ca") && r.status != http.StatusForbidden {
					t.Errorf("%s by elastic without a cluster certificate: %d %s", path, r.status, r.body)
				}
			}
		})
	}
}

// Issue 17 item 6: a client that fails Basic authentication through a
// follower is charged for it at its own address, not the follower's: 55
// failures from one address leave a valid request from another address,
// through the same follower, answered by the leader (404 found:false for a
// user that does not exist), while the attacker's address ends up refused
// with 429.
func TestAddrLimit_FailuresThroughAFollowerAreChargedToTheClient(t *testing.T) {
	noSecret := func(c *Config) { c.NodeSecret = "" }
	leader := newLeader(t, noSecret)
	// Distinct users, so that no username runs out of budget before the
	// address does (cheap hashes keep the test fast).
	for i := range 6 {
		hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		leader.propose(&fsm.PutUser{User: fsm.User{Username: fmt.Sprintf("user%d", i), Hash: hash, Enabled: true, Realm: fsm.NativeRealm}})
	}
	follower := startNode(t, newFakeFollower("n2", leader.node), noSecret)
	// The follower's failure limits see time stand still: at the race
	// detector's speed the 55 requests can take longer than the address's
	// budget takes to refill them.
	stopped := time.Now()
	follower.passwordsWith(func(c *credentials.Config) { c.Clock = func() time.Time { return stopped } })
	leader.propose(&fsm.SetNode{NodeID: "n2", HTTPAddr: follower.srv.cfg.HTTPAdvertise})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := follower.node.WaitApplied(ctx, leader.node.logLen()); err != nil {
		t.Fatal(err)
	}

	const attacker, client = "192.0.2.66:4000", "198.51.100.7:4000"
	limited := 0
	for i := range 55 {
		w := follower.serveFrom(attacker, "DELETE", "/_security/user/bob", "", basicAuth(fmt.Sprintf("user%d", i%6), "wrong")...)
		switch w.Code {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("bad Basic %d through the follower: %d %s", i, w.Code, w.Body)
		}
	}
	if limited == 0 {
		t.Error("55 failures from one address through a follower were never limited")
	}
	w := follower.serveFrom(client, "DELETE", "/_security/user/bob", "", basicAuth("elastic", "elastic-pw")...)
	if w.Code != http.StatusNotFound || w.Body.String() != `{"found":false}` {
		t.Fatalf("valid elastic request from another address through the same follower: %d %s", w.Code, w.Body)
	}
}

// Issue 17 item 7: wrong node credentials are counted per address, answered
// 429 after a small burst, and counted in tokend_node_auth_failures_total.
// The raw X-Tokend-Node-Secret header is a failed attempt like any other.
func TestNodeAuth_GuessesAreLimitedAndCounted(t *testing.T) {
	n := newLeader(t, nil)
	const guesser = "192.0.2.99:5000"
	codes := map[int]int{}
	for i := range 100 {
		w := n.serveFrom(guesser, "GET", "/_tokend/cluster/status", "", headerNodeSecret, fmt.Sprintf("guess-%03d", i))
		codes[w.Code]++
	}
	if codes[http.StatusTooManyRequests] < 80 || codes[http.StatusOK] != 0 {
		t.Errorf("100 wrong node secrets answered %v; want 429 after a small burst", codes)
	}
	e, _ := n.scrapeMetrics("/metrics", basicAuth("monty", "monty-pw")...)
	if total := e.Sum("tokend_node_auth_failures_total"); total != 100 {
		t.Errorf("tokend_node_auth_failures_total sums to %v, want 100", total)
	}
}
