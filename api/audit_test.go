package api

import (
	"bytes"
	"github.com/tokend/tokend/test/testkit"
	"os"
	"path/filepath"
	"testing"

	"github.com/tokend/tokend/api/audit"
)

// Each request event is written once for the request that makes it, with
// the caller, the route and the action, and nothing of the credentials.
func TestAudit_EachRequestEventOnceForItsRequest(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.json")
	trail, err := audit.Open(audit.Options{Path: path, Include: []string{"_all"}, Exclude: []string{
		audit.ActionTokenCreated, "member_joined", "user_created"}, NodeID: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	n := newLeader(t, func(c *Config) { c.Audit = trail })
	start := countLines(t, path)
	cases := []struct {
		action string
		do     func()
		user   string
	}{
		{audit.ActionAnonymousDenied, func() { n.do("GET", "/_cluster/health", "").want(t, 401) }, ""},
		{audit.ActionTamperedRequest, func() {
			n.do("GET", "/_security/_authenticate", "", "Authorization", "Bearer not-a-token").want(t, 401)
		}, ""},
		{audit.ActionAuthenticationFailed, func() {
			n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "wrong-password-1")...).want(t, 401)
		}, "alice"},
		{audit.ActionAccessDenied, func() { n.do("GET", "/_cluster/health", "", basicAuth("alice", "alice-pw")...).want(t, 403) }, "alice"},
		{audit.ActionAuthenticationSuccess, func() {
			n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 200)
		}, "alice"},
		{audit.ActionAccessGranted, func() { n.do("GET", "/_cluster/health", "", basicAuth("monty", "monty-pw")...).want(t, 200) }, "monty"},
	}
	for _, c := range cases {
		before := countLines(t, path)
		c.do()
		got := testkit.JSONLines(t, path)[before:]
		count := 0
		for _, e := range got {
			if e["event.action"] == c.action {
				count++
				if e["user.name"] != nil && e["user.name"] != c.user || e["event.type"] != "rest" || e["url.path"] == nil ||
					e["origin.address"] == nil || e["node.id"] != "n1" {
					t.Errorf("%s: %v", c.action, e)
				}
			}
		}
		if count != 1 {
			t.Errorf("%s written %d times: %v", c.action, count, got)
		}
	}
	data, _ := os.ReadFile(path)
	for _, secret := range []string{"wrong-password-1", "alice-pw", "monty-pw", "not-a-token"} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("the audit file holds %q", secret)
		}
	}
	if countLines(t, path) <= start {
		t.Fatal("nothing written")
	}
}

func countLines(t *testing.T, path string) int { return len(testkit.JSONLines(t, path)) }
