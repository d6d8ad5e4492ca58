package api

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/api/metrics/metricstest"
	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/test/testkit"
)

// scrapeMetrics fetches path with hdr, checks the content type and parses
// the exposition.
func (n *testNode) scrapeMetrics(path string, hdr ...string) (*metricstest.Exposition, string) {
	n.t.Helper()
	r := n.do("GET", path, "", hdr...).want(n.t, 200)
	if ct := r.header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		n.t.Fatalf("Content-Type %q", ct)
	}
	e, err := metricstest.Parse(bytes.NewReader(r.body))
	if err != nil {
		n.t.Fatalf("%v\n%s", err, r.body)
	}
	return e, string(r.body)
}

// wantCount fails unless the sample has the value.
func wantCount(t *testing.T, e *metricstest.Exposition, want float64, name string, labels ...string) {
	t.Helper()
	if got, ok := e.Value(name, labels...); !ok || got != want {
		t.Errorf("%s%v = %v (found %v), want %v", name, labels, got, ok, want)
	}
}

func TestMetrics_NeedTheMonitorPrivilege(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	for _, path := range []string{"/_prometheus/metrics", "/metrics"} {
		n.do("GET", path, "").want(t, 401)
		n.do("GET", path, "", basicAuth("alice", "alice-pw")...).wantError(t, 403, "security_exception",
			"action [cluster:monitor/prometheus/metrics] is unauthorized for user [alice]")
		n.scrapeMetrics(path, basicAuth("monty", "monty-pw")...)
		access, _ := n.passwordGrant("monty", "monty-pw")
		n.scrapeMetrics(path, bearer(access)...)
	}
}

func TestMetrics_CountTokensInvalidationsAndAuthFailures(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	monty := basicAuth("monty", "monty-pw")
	expired, _ := n.issueDirect("alice", fsm.NativeRealm, time.Hour)
	_, refresh := n.passwordGrant("alice", "alice-pw")
	n.do("POST", "/_security/oauth2/token", `{"grant_type":"client_credentials"}`, basicAuth("alice", "alice-pw")...).want(t, 200)
	r := n.do("POST", "/_security/oauth2/token", fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh)).want(t, 200)
	newAccess, _ := r.json(t)["access_token"].(string)
	n.do("POST", "/_security/oauth2/token", fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh)).want(t, 200)
	n.do("POST", "/_security/oauth2/token", `{"grant_type":"refresh_token","refresh_token":"tkr1_nope"}`).want(t, 400)
	n.do("DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, newAccess)).want(t, 200)
	tokmanAccess, _ := n.passwordGrant("tokman", "tokman-pw")
	n.do("PUT", "/_security/user/tokman/_disable", "", basicAuth("elastic", "elastic-pw")...).want(t, 200)

	// One failed authentication of each kind.
	n.do("GET", "/_security/_authenticate", "", bearer("tka1_short")...).want(t, 401)
	n.do("GET", "/_security/_authenticate", "", "Authorization", "Basic !!!").want(t, 401)
	unknown, _ := credentials.NewToken(credentials.AccessPrefix)
	n.do("GET", "/_security/_authenticate", "", bearer(unknown)...).want(t, 401)
	n.do("GET", "/_security/_authenticate", "", bearer(newAccess)...).want(t, 401)
	n.do("GET", "/_security/_authenticate", "", bearer(expired)...).want(t, 401)
	n.do("GET", "/_security/_authenticate", "", bearer(tokmanAccess)...).want(t, 401)
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "wrong-password")...).want(t, 401)
	n.do("POST", "/_security/oauth2/token", `{"grant_type":"password","username":"tokman","password":"tokman-pw"}`).want(t, 401)

	e, _ := n.scrapeMetrics("/metrics", monty...)
	wantCount(t, e, 2, "tokend_tokens_issued_total", "grant_type", "password")
	wantCount(t, e, 1, "tokend_tokens_issued_total", "grant_type", "client_credentials")
	wantCount(t, e, 1, "tokend_tokens_issued_total", "grant_type", "refresh_token")
	wantCount(t, e, 1, "tokend_token_refreshes_total", "result", "ok")
	wantCount(t, e, 1, "tokend_token_refreshes_total", "result", "retried")
	wantCount(t, e, 1, "tokend_token_refreshes_total", "result", "not_found")
	wantCount(t, e, 1, "tokend_tokens_invalidated_total", "cause", "access_token")
	wantCount(t, e, 2, "tokend_tokens_invalidated_total", "cause", "user_disabled_or_deleted")
	// tokman's token was invalidated when tokman was disabled.
	for reason, want := range map[string]float64{"malformed": 2, "unknown": 1, "invalidated": 2, "expired": 1,
		"disabled": 1, "bad_password": 1} {
		wantCount(t, e, want, "tokend_auth_failures_total", "reason", reason)
	}
	c := n.srv.state.Counts()
	wantCount(t, e, float64(c.AccessTokens), "tokend_token_records", "kind", "access")
	wantCount(t, e, float64(c.RefreshTokens), "tokend_token_records", "kind", "refresh")
	wantCount(t, e, float64(len(testUsers)), "tokend_users")
	if e.Types["tokend_auth_failures_total"] != "counter" || e.Types["tokend_token_records"] != "gauge" {
		t.Errorf("types: %v", e.Types)
	}
}

func TestMetrics_NeverContainTokensPasswordsOrNames(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	access, refresh := n.passwordGrant("alice", "alice-pw")
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "hunter2-secret")...).want(t, 401)
	n.do("GET", "/_security/_authenticate", "", bearer(access+"x")...).want(t, 401)
	n.do("DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"refresh_token":%q}`, refresh)).want(t, 200)
	_, body := n.scrapeMetrics("/_prometheus/metrics", basicAuth("monty", "monty-pw")...)
	for _, secret := range []string{access, access[len(credentials.AccessPrefix):], refresh, refresh[len(credentials.RefreshPrefix):],
		"alice-pw", "monty-pw", "hunter2-secret", "alice"} {
		if strings.Contains(body, secret) {
			t.Errorf("metrics contain %q", secret)
		}
	}
}

// Each reason a password check gives (credentials.RejectReason) is counted
// under its own label.
func TestRejectionFailures_Reasons(t *testing.T) {
	t.Parallel()
	for reason, want := range map[credentials.RejectReason]authFailure{
		credentials.UnknownUser:   failUnknown,
		credentials.DisabledUser:  failDisabled,
		credentials.WrongPassword: failBadPassword,
	} {
		if got, ok := rejectionFailures[reason]; !ok || got != want {
			t.Errorf("reason %d: %s (%v), want %s", reason, authFailureNames[got], ok, authFailureNames[want])
		}
	}
}

func TestReadyz_NotReadyIsLoggedAtDebugOnly(t *testing.T) {
	t.Parallel()
	for level, wantLines := range map[slog.Level]int{slog.LevelInfo: 0, slog.LevelDebug: 1} {
		var buf testkit.Buffer
		n := startNode(t, newFakeLeader("n1"), func(c *Config) {
			c.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))
		})
		n.node.set(func(f *fakeNode) { f.leader, f.leaderID = false, "" })
		r := n.do("GET", "/_tokend/readyz", "", basicAuth("nobody", "bad")...)
		if r.status != 503 || !strings.Contains(string(r.body), `"reason":"not ready: no leader is elected yet`) {
			t.Errorf("readyz without a leader: %d %s", r.status, r.body)
		}
		if r.header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		if got := bytes.Count(buf.Bytes(), []byte("\n")); got != wantLines {
			t.Errorf("at %v: %d log lines, want %d:\n%s", level, got, wantLines, buf.Bytes())
		}
	}
}
