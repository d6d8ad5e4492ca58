package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/test/testkit"
)

// metricValue reads one unlabelled sample from n's metrics.
func metricValue(t *testing.T, n *testNode, name string) float64 {
	t.Helper()
	e, _ := n.scrapeMetrics("/_prometheus/metrics", basicAuth("monty", "monty-pw")...)
	v, ok := e.Value(name)
	if !ok {
		t.Fatalf("metric %s not served", name)
	}
	return v
}

// clientGrants asks n for count client_credentials tokens and returns how
// many it answered 200.
func clientGrants(n *testNode, count int) int {
	ok := 0
	for range count {
		if n.do("POST", "/_security/oauth2/token", `{"grant_type":"client_credentials"}`, basicAuth("alice", "alice-pw")...).status == 200 {
			ok++
		}
	}
	return ok
}

// A follower that knows the node credential sends its grants to the leader
// in batches, and forwards none whole.
func TestBatchPath_FollowerWithCredentialBatches(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	if got := clientGrants(follower, 20); got != 20 {
		t.Fatalf("%d of 20 grants answered 200", got)
	}
	if b := metricValue(t, follower, "tokend_token_batches_forwarded_total"); b < 1 {
		t.Fatalf("tokend_token_batches_forwarded_total %v, want batches", b)
	}
	if u := metricValue(t, follower, "tokend_token_grants_unbatched_total"); u != 0 {
		t.Fatalf("tokend_token_grants_unbatched_total %v, want 0", u)
	}
}

// A leader of an older build, without the propose route, answers a batch
// 404: the follower then forwards grants to it whole, counts them and logs
// the fallback once.
func TestBatchPath_OlderLeaderWithoutProposeRouteFallsBackOnce(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	target, _ := url.Parse(leader.ts.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == proposePath {
			http.NotFound(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(old.Close)
	var logs testkit.Buffer
	follower := startNode(t, newFakeFollower("n2", leader.node), func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	leader.propose(&fsm.SetNode{NodeID: "n1", HTTPAddr: strings.TrimPrefix(old.URL, "http://")})
	leader.propose(&fsm.SetNode{NodeID: "n2", HTTPAddr: follower.srv.cfg.HTTPAdvertise})
	eventually(t, 5*time.Second, "the follower catches up", func() bool { return follower.node.logLen() == leader.node.logLen() })
	clientGrants(follower, 1) // the batch meets the 404
	if got := clientGrants(follower, 10); got != 10 {
		t.Fatalf("after the fallback, %d of 10 grants answered 200", got)
	}
	if u := metricValue(t, follower, "tokend_token_grants_unbatched_total"); u < 10 {
		t.Fatalf("tokend_token_grants_unbatched_total %v, want the 10 grants", u)
	}
	if n := strings.Count(logs.String(), "the leader has no batch route"); n != 1 {
		t.Fatalf("fallback logged %d times, want once:\n%s", n, logs.String())
	}
}
