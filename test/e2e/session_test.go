package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// getToken runs a password grant on p and returns the access and refresh
// tokens.
func getToken(t *testing.T, p *proc, user, pw string) (string, string) {
	t.Helper()
	r := do(t, p, "POST", "/_security/oauth2/token",
		fmt.Sprintf(`{"grant_type":"password","username":%q,"password":%q}`, user, pw), nil)
	if r.Status != 200 {
		t.Fatalf("password grant on %s: %d %s", p.id, r.Status, r.Body)
	}
	m := r.JSON(t)
	access, _ := m["access_token"].(string)
	refresh, _ := m["refresh_token"].(string)
	if access == "" || refresh == "" || m["type"] != "Bearer" || m["expires_in"] != float64(1200) {
		t.Fatalf("password grant answer: %s", r.Body)
	}
	return access, refresh
}

// authenticate returns the status of _authenticate with the access token.
func authenticate(t *testing.T, p *proc, access string) testkit.Response {
	t.Helper()
	return do(t, p, "GET", "/_security/_authenticate", "", testkit.Bearer(access))
}

// TestReadmeSession_PasswordGrantAuthenticateRefreshInvalidateAcrossNodes runs
// the README's curl session against three real processes.
func TestReadmeSession_PasswordGrantAuthenticateRefreshInvalidateAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]

	access, refresh := getToken(t, n1, "elastic", superPassword)

	r := authenticate(t, n3, access)
	if r.Status != 200 {
		t.Fatalf("authenticate on node3: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if m["username"] != "elastic" || m["authentication_type"] != "token" {
		t.Fatalf("authenticate answer: %s", r.Body)
	}

	r = do(t, n2, "POST", "/_security/oauth2/token",
		fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh), nil)
	if r.Status != 200 {
		t.Fatalf("refresh on node2: %d %s", r.Status, r.Body)
	}
	newAccess, _ := r.JSON(t)["access_token"].(string)
	if newAccess == "" || newAccess == access {
		t.Fatalf("refresh gave no new access token: %s", r.Body)
	}
	for _, p := range nodes {
		if r := authenticate(t, p, newAccess); r.Status != 200 {
			t.Fatalf("refreshed token on %s: %d %s", p.id, r.Status, r.Body)
		}
	}

	r = do(t, n1, "DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, newAccess), nil)
	if r.Status != 200 || r.JSON(t)["invalidated_tokens"] != float64(1) {
		t.Fatalf("invalidate: %d %s", r.Status, r.Body)
	}
	for _, p := range nodes {
		r := authenticate(t, p, newAccess)
		if r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("invalidated token on %s: %d %v %s", p.id, r.Status, r.Header, r.Body)
		}
	}

	for _, p := range nodes {
		if err := p.stop(); err != nil {
			t.Fatalf("%s did not stop cleanly: %v\n%s", p.id, err, p.out.String())
		}
	}
}

// TestSingleNode_DefaultStartGeneratesPasswordOnce checks the zero-flag
// start: a single node bootstraps itself and prints a generated elastic
// password exactly once, which then works.
func TestSingleNode_DefaultStartGeneratesPasswordOnce(t *testing.T) {
	p := newProc(t, "solo")
	p.env = withoutEnv(p.env, "ELASTIC_PASSWORD")
	p.start()
	waitReady(t, p)
	var pw string
	testkit.Eventually(t, 10*time.Second, "generated password printed", func() error {
		for _, line := range strings.Split(p.out.String(), "\n") {
			if i := strings.Index(line, "Password for the elastic user: "); i >= 0 {
				pw = strings.TrimSpace(line[i+len("Password for the elastic user: "):])
			}
		}
		if pw == "" {
			return fmt.Errorf("no password line in output")
		}
		return nil
	})
	if n := strings.Count(p.out.String(), pw); n != 1 {
		t.Fatalf("generated password appears %d times in the output", n)
	}
	if r := do(t, p, "GET", "/", "", testkit.Basic("elastic", pw)); r.Status != 200 {
		t.Fatalf("GET / with the generated password: %d %s", r.Status, r.Body)
	}
	if err := p.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	// A restart with existing state keeps the same password and prints none.
	before := len(p.out.String())
	p.start()
	waitReady(t, p)
	if r := do(t, p, "GET", "/", "", testkit.Basic("elastic", pw)); r.Status != 200 {
		t.Fatalf("after restart: %d %s", r.Status, r.Body)
	}
	if strings.Contains(p.out.String()[before:], "Password for the elastic user") {
		t.Fatal("a restart printed a new password")
	}
}

// withoutEnv drops one variable from an environment list.
func withoutEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
