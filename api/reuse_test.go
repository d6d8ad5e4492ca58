package api

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// refreshBody is the refresh grant request for tok.
func refreshBody(tok string) string {
	return fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, tok)
}

// TestRefreshReuse_AfterTheWindowRevokesTheFamilyAndLogsTheOwner replays a
// refresh token 50 s after it was spent (RFC 9700 §4.14.2). The history is
// made through the API, then the cluster's clock moves 50 s on and the old
// token is presented again: invalid_grant,
// every token that grew from it (children and grandchildren, access and
// refresh) is refused from then on, and one WARN line names the event, the
// user and the realm without any token material.
func TestRefreshReuse_AfterTheWindowRevokesTheFamilyAndLogsTheOwner(t *testing.T) {
	t.Parallel()
	var logs testkit.Buffer
	n := newLeader(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	access0, refresh0 := n.passwordGrant("alice", "alice-pw")
	child := n.do("POST", "/_security/oauth2/token", refreshBody(refresh0)).want(t, 200).json(t)
	access1, refresh1 := child["access_token"].(string), child["refresh_token"].(string)
	grandchild := n.do("POST", "/_security/oauth2/token", refreshBody(refresh1)).want(t, 200).json(t)
	access2, refresh2 := grandchild["access_token"].(string), grandchild["refresh_token"].(string)
	n.node.log.clock.advance(50 * time.Second)
	for _, tok := range []string{access1, access2} {
		n.do("GET", "/_security/_authenticate", "", bearer(tok)...).want(t, 200)
	}

	n.do("POST", "/_security/oauth2/token", refreshBody(refresh0)).
		wantOAuth(t, "invalid_grant", "token has already been refreshed more than 30 seconds in the past")

	for _, tok := range []string{access1, access2} {
		n.do("GET", "/_security/_authenticate", "", bearer(tok)...).wantError(t, 401, "security_exception", "token expired")
	}
	n.do("POST", "/_security/oauth2/token", refreshBody(refresh2)).wantOAuth(t, "invalid_grant", "token has been invalidated")
	// refresh1, spent and then revoked with the family, is refused too.
	n.do("POST", "/_security/oauth2/token", refreshBody(refresh1)).
		wantOAuth(t, "invalid_grant", "token has been invalidated")

	var warns []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "refresh token replayed") {
			warns = append(warns, line)
		}
	}
	if len(warns) != 1 {
		t.Fatalf("want one WARN line for the replay, got %d:\n%s", len(warns), logs.String())
	}
	for _, want := range []string{"event=refresh_token_reuse", "user=alice", "realm=default_native", "revoked=4", "client_addr=127.0.0.1"} {
		if !strings.Contains(warns[0], want) {
			t.Errorf("replay log line lacks %s: %s", want, warns[0])
		}
	}
	for _, tok := range []string{access0, refresh0, access1, refresh1, access2, refresh2} {
		raw, err := base64.RawURLEncoding.DecodeString(tok[len(tok)-43:])
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), tok[len(tok)-43:]) ||
			strings.Contains(logs.String(), string(raw)) {
			t.Errorf("the log holds token material of %s...", tok[:5])
		}
	}
}
