package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// auditFile is the default audit file of p: <data-dir>/../logs/.
func auditFile(p *proc) string {
	return filepath.Join(filepath.Dir(p.dataDir), "logs", "tokend_audit.json")
}

// auditLines reads the audit file of p as JSON objects, failing on a line
// that is not one.
func auditLines(t *testing.T, p *proc) []map[string]any {
	t.Helper()
	return testkit.JSONLines(t, auditFile(p))
}

// cutLastLines removes the last n lines of file and half of the one before.
func cutLastLines(t *testing.T, file string, n int) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) < n+2 {
		t.Fatalf("only %d lines in %s", len(lines), file)
	}
	keep := lines[:len(lines)-1-n] // SplitAfter leaves an empty last element
	last := keep[len(keep)-1]
	keep[len(keep)-1] = last[:len(last)/2]
	if err := os.WriteFile(file, []byte(strings.Join(keep, "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

// must fails unless r has status.
func must(t *testing.T, r testkit.Response, status int) testkit.Response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r
}

// TestAudit_SessionEventsAndNoFileThroughAnyRoute logs in, refreshes,
// invalidates and fails a password, and finds each event once in the audit
// file with Elasticsearch's field names; a user without privileges gets
// nothing of the file through any route.
func TestAudit_SessionEventsAndNoFileThroughAnyRoute(t *testing.T) {
	nodes := startCluster(t, 1, "--audit")
	p := nodes[0]
	admin := testkit.Basic("elastic", superPassword)
	must(t, do(t, p, "PUT", "/_security/user/alice", `{"password":"alice-password","roles":[]}`, admin), 200)
	before := len(auditLines(t, p))

	login := must(t, do(t, p, "POST", "/_security/oauth2/token", passwordBody("alice", "alice-password"), nil), 200).JSON(t)
	next := must(t, do(t, p, "POST", "/_security/oauth2/token", refreshBody(login["refresh_token"].(string)), nil), 200).JSON(t)
	access := next["access_token"].(string)
	must(t, do(t, p, "DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, access), nil), 200)
	must(t, do(t, p, "POST", "/_security/oauth2/token", passwordBody("alice", "not-her-password"), nil), 401)
	must(t, do(t, p, "GET", "/_security/user", "", testkit.Basic("alice", "alice-password")), 403)

	want := []string{"token_created", "token_refreshed", "tokens_invalidated", "authentication_failed", "access_denied"}
	var session []map[string]any
	testkit.Eventually(t, 10*time.Second, "the session's events are written", func() error {
		session = auditLines(t, p)[before:]
		if len(session) < len(want) {
			return fmt.Errorf("%d events", len(session))
		}
		return nil
	})
	var sample []string
	got := map[string]int{}
	for _, e := range session {
		got[e["event.action"].(string)]++
		line, _ := json.Marshal(e)
		sample = append(sample, string(line))
	}
	t.Logf("audit file sample:\n%s", strings.Join(sample, "\n"))
	for _, a := range want {
		if got[a] != 1 {
			t.Errorf("%s written %d times, want once: %v", a, got[a], got)
		}
	}
	for _, e := range session {
		if e["user.name"] != "alice" || e["node.id"] != "node1" || e["@timestamp"] == nil {
			t.Errorf("event lacks its user, node or time: %v", e)
		}
	}
	secrets := []string{"alice-password", "not-her-password", login["access_token"].(string), login["refresh_token"].(string), access}
	data, err := os.ReadFile(auditFile(p))
	if err != nil {
		t.Fatal(err)
	}
	assertNoNeedle(t, "the audit file", data, needlesFor(t, secrets))

	tok := must(t, do(t, p, "POST", "/_security/oauth2/token", passwordBody("alice", "alice-password"), nil), 200).JSON(t)
	alice := testkit.Bearer(tok["access_token"].(string))
	for _, path := range []string{"/logs/tokend_audit.json", "/../logs/tokend_audit.json", "/%2e%2e/logs/tokend_audit.json",
		"/_tokend/snapshot", "/_security/user", "/_security/role", "/_nodes/_all/http", "/_tokend/cluster/status",
		"/_tokend/cluster/nodes", "/metrics", "/_prometheus/metrics", "/_cluster/health", "/_security/_authenticate",
		"/_security/user/_privileges", "/_tokend/audit", "/_security/audit"} {
		r := do(t, p, "GET", path, "", alice)
		if strings.Contains(string(r.Body), "event.action") || strings.Contains(string(r.Body), "token_created") {
			t.Errorf("GET %s as alice answered audit content: %d %s", path, r.Status, r.Body)
		}
	}
}

// TestAudit_KillMidBurstLosesAndRepeatsNoLogEvent kills a node with
// SIGKILL in the middle of a burst of writes and cuts the last events off
// its audit file (half a line too), as if it had applied entries it had not
// yet written. Restarted, the node rewrites them: the file then holds each
// log event once, in log order, and every role the burst was answered 200
// for.
func TestAudit_KillMidBurstLosesAndRepeatsNoLogEvent(t *testing.T) {
	nodes := startCluster(t, 1, "--audit")
	p := nodes[0]
	admin := testkit.Basic("elastic", superPassword)
	must(t, do(t, p, "GET", "/_security/_authenticate", "", admin), 200) // warm the password check

	var answered sync.Map
	var done atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; i < 500; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("burst-%d-%d", w, i)
				r, err := testkit.TryDo(p.URL(), "PUT", "/_security/role/"+name, `{"cluster":["monitor"]}`, admin)
				if err != nil {
					return // the node is gone
				}
				if r.Status == http.StatusOK {
					answered.Store(name, true)
					done.Add(1)
				}
			}
		})
	}
	testkit.Eventually(t, 30*time.Second, "the burst is under way", func() error {
		if n := done.Load(); n < 60 {
			return fmt.Errorf("%d roles so far", n)
		}
		return nil
	})
	p.kill()
	close(stop)
	wg.Wait()
	cutLastLines(t, auditFile(p), 20)

	p.start()
	waitReady(t, p)
	// Events are written in log order as entries apply: once a write made
	// after the restart is in the file, every entry before it was passed.
	must(t, do(t, p, "PUT", "/_security/role/after-restart", `{}`, admin), 200)
	var lines []map[string]any
	testkit.Eventually(t, 30*time.Second, "the audit trail has the write made after the restart", func() error {
		lines = auditLines(t, p)
		for _, e := range lines {
			if e["role.name"] == "after-restart" {
				return nil
			}
		}
		return fmt.Errorf("%d lines, none for after-restart", len(lines))
	})
	seen := map[string]bool{}
	created := map[string]int{}
	var prev float64
	for _, e := range lines {
		if e["event.type"] != "log" {
			continue
		}
		idx, _ := e["log.index"].(float64)
		if idx < prev {
			t.Fatalf("log index %v after %v: not in log order", idx, prev)
		}
		prev = idx
		key := fmt.Sprint(e)
		if seen[key] {
			t.Fatalf("log event written twice: %v", e)
		}
		seen[key] = true
		if e["event.action"] == "role_created" {
			created[e["role.name"].(string)]++
		}
	}
	n := 0
	answered.Range(func(k, _ any) bool {
		n++
		if created[k.(string)] != 1 {
			t.Errorf("role %s was answered 200 but has %d role_created events", k, created[k.(string)])
		}
		return true
	})
	for name, c := range created {
		if c != 1 {
			t.Errorf("role %s has %d role_created events", name, c)
		}
	}
	t.Logf("%d roles answered before the kill, %d role_created events", n, len(created))
}
