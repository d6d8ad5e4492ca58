package faults

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

var rerouteRuns = flag.Int("reroute-runs", 1, "faults injected, one after the other, by each TestReroute test")

// serverRequestTimeout is tokend's --request-timeout default: a write
// stuck on a lost leader used to answer 503 only after it.
const serverRequestTimeout = 10 * time.Second

// call is one request's answer and how long it took.
type call struct {
	status int
	body   []byte
	took   time.Duration
}

// do sends a request as elastic (basic auth) or with bearer, within
// requestTimeout; a transport error is status 0.
func do(nd *node, method, path, body, bearer string) call {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, method, nd.URL()+path, strings.NewReader(body))
	if err != nil {
		return call{body: []byte(err.Error())}
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	} else {
		req.SetBasicAuth("elastic", superPassword)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return call{body: []byte(err.Error()), took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return call{status: resp.StatusCode, body: b, took: time.Since(start)}
}

// grant issues a client_credentials token through nd.
func grant(nd *node) (call, string) {
	c := do(nd, http.MethodPost, "/_security/oauth2/token", `{"grant_type":"client_credentials"}`, "")
	var t tokenAnswer
	_ = json.Unmarshal(c.body, &t)
	return c, t.AccessToken
}

// invalidate invalidates access through nd.
func invalidate(nd *node, access string) call {
	return do(nd, http.MethodDelete, "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, access), "")
}

// accessRecords is nd's count of access token records (a metric).
func accessRecords(nd *node) (int, error) {
	c := do(nd, http.MethodGet, "/_prometheus/metrics", "", "")
	if c.status != http.StatusOK {
		return 0, fmt.Errorf("%s metrics: %d %s", nd.id, c.status, c.body)
	}
	m, err := testkit.ParseMetrics(strings.NewReader(string(c.body)))
	if err != nil {
		return 0, fmt.Errorf("%s metrics: %w", nd.id, err)
	}
	v, ok := m.Value("tokend_token_records", "kind", "access")
	if !ok {
		return 0, fmt.Errorf("%s has no access token count", nd.id)
	}
	return int(v), nil
}

// sameRecords waits until every node has applied the same number of
// access token records, and returns it.
func sameRecords(c *cluster) int {
	c.t.Helper()
	var n int
	testkit.Eventually(c.t, 30*time.Second, "every node holds the same token records", func() error {
		counts := map[int]bool{}
		for _, nd := range c.nodes {
			v, err := accessRecords(nd)
			if err != nil {
				return err
			}
			counts[v], n = true, v
		}
		if len(counts) != 1 {
			return fmt.Errorf("counts differ: %v", counts)
		}
		return nil
	})
	return n
}

// wantAuth waits for nd to decide on access (it may answer 503 while it
// catches up after the fault) and checks that it answers status.
func wantAuth(c *cluster, nd *node, access string, status int) {
	c.t.Helper()
	testkit.Eventually(c.t, 30*time.Second, nd.id+" decides on a token", func() error {
		a := do(nd, http.MethodGet, "/_security/_authenticate", "", access)
		switch a.status {
		case status:
			return nil
		case http.StatusServiceUnavailable, 0:
			return fmt.Errorf("%s answered %d %s", nd.id, a.status, a.body)
		}
		c.t.Fatalf("%s answered %d for a token, want %d: %s", nd.id, a.status, status, a.body)
		return nil
	})
}

// firstRefusal polls nd with access until nd refuses it (401) and returns
// the time since from, or requestTimeout if it never does.
func firstRefusal(nd *node, access string, from time.Time) time.Duration {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Since(from) < requestTimeout {
		if do(nd, http.MethodGet, "/_security/_authenticate", "", access).status == http.StatusUnauthorized {
			return time.Since(from)
		}
		<-tick.C
	}
	return requestTimeout
}

// rerouted injects fault on the leader (it returns the heal), sends a
// grant and an invalidation through a follower at that moment, and checks
// that both succeed, before the server's request timeout, with one effect
// each. It logs the times, and those of the same writes without a fault.
func rerouted(t *testing.T, c *cluster, what string, fault func(leader *node) (heal func())) {
	for run := 1; run <= *rerouteRuns; run++ {
		l := c.waitHealthy(60 * time.Second)
		f := c.others(l.id)[0]
		g, victim := grant(f)
		inv := invalidate(f, victim)
		if g.status != http.StatusOK || inv.status != http.StatusOK {
			t.Fatalf("without a fault: grant %d %s, invalidation %d %s", g.status, g.body, inv.status, inv.body)
		}
		_, victim = grant(f)
		before := sameRecords(c)

		faulted := time.Now()
		heal := fault(l)
		revoked := make(chan time.Duration, 1)
		go func() { revoked <- firstRefusal(c.others(l.id)[1], victim, faulted) }()
		grants, invs := make(chan call, 1), make(chan call, 1)
		var access string
		go func() {
			var a call
			a, access = grant(f)
			grants <- a
		}()
		go func() { invs <- invalidate(f, victim) }()
		ga, ia, rv := <-grants, <-invs, <-revoked
		heal()
		t.Logf("run %d, leader %s %s: through %s, grant %d in %v, invalidation %d in %v, in effect on the other follower after %v (no fault: %v and %v)",
			run, l.id, what, f.id, ga.status, ga.took.Round(time.Millisecond), ia.status, ia.took.Round(time.Millisecond),
			rv.Round(time.Millisecond), g.took.Round(time.Millisecond), inv.took.Round(time.Millisecond))
		for name, a := range map[string]call{"grant": ga, "invalidation": ia} {
			if a.status != http.StatusOK || a.took >= serverRequestTimeout {
				t.Fatalf("%s through %s with the leader %s: %d after %v: %s", name, f.id, what, a.status, a.took, a.body)
			}
		}
		if !strings.Contains(string(ia.body), `"invalidated_tokens":1,"previously_invalidated_tokens":0`) {
			t.Fatalf("the invalidation answered %s", ia.body)
		}

		c.waitHealthy(60 * time.Second)
		for _, nd := range c.nodes {
			wantAuth(c, nd, access, http.StatusOK)
			wantAuth(c, nd, victim, http.StatusUnauthorized)
		}
		if got := sameRecords(c) - before; got != 1 {
			t.Fatalf("one grant created %d access tokens", got)
		}
	}
}

func TestReroute_LeaderCutOffByAFirewall_WritesThroughAFollowerMoveToTheNewLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("fault-injection tests skipped under -short")
	}
	requireProc(t)
	c := startCluster(t, 3)
	if c.fw == nil {
		t.Skip("dropping packets needs iptables and root")
	}
	rerouted(t, c, "cut off (packets dropped)", func(l *node) func() {
		c.firewall([]*node{l}, c.others(l.id))
		return c.heal
	})
}

func TestReroute_LeaderPaused_WritesThroughAFollowerMoveToTheNewLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("fault-injection tests skipped under -short")
	}
	requireProc(t)
	c := startCluster(t, 3)
	rerouted(t, c, "paused (SIGSTOP)", func(l *node) func() {
		l.pause()
		return l.resume
	})
}
