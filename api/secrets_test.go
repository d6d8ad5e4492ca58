package api

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/cluster"
	"github.com/tokend/tokend/raftnode/peerauth"
	"github.com/tokend/tokend/test/testkit"
)

// leakNodeSecret is the node secret of the leak test, distinct enough to be
// searched for.
const leakNodeSecret = "leak-test-node-secret-7c41e9"

// leakCredential is the node credential of the leak test, which a join
// answer carries and nothing else may.
const leakCredential = "leak-test-node-credential-31d0"

// leakRun records what a workload exposed: the secrets it used and every
// byte a client or operator could read afterwards.
type leakRun struct {
	t       *testing.T
	n       *testNode
	secrets []string
	answers bytes.Buffer // every error answer, headers included
}

// do sends a request and keeps its answer if it is an error.
func (l *leakRun) do(method, path, body string, hdr ...string) resp {
	l.t.Helper()
	r := l.n.do(method, path, body, hdr...)
	if r.status >= 400 {
		fmt.Fprintf(&l.answers, "%d %v %s\n", r.status, r.header, r.body)
	}
	return r
}

// pair takes the tokens of a grant answer as secrets and returns them.
func (l *leakRun) pair(r resp) (access, refresh string) {
	l.t.Helper()
	m := r.want(l.t, 200).json(l.t)
	access, _ = m["access_token"].(string)
	refresh, _ = m["refresh_token"].(string)
	l.secrets = append(l.secrets, access)
	if refresh != "" {
		l.secrets = append(l.secrets, refresh)
	}
	return access, refresh
}

// TestSecrets_NeverInLogsErrorsMetricsLogEntriesOrSnapshots runs every
// operation that handles a secret, with debug logging: password and
// client_credentials grants, refreshes, a retry in the window and a replay
// after it, invalidation by token, refresh token and username, user create,
// password change, disable, enable and delete, Basic and password-grant
// failures up to the 429 of the rate limiter, the node secret right and
// wrong. Then no password, token (text or raw bytes) or node secret may
// appear in the log, in any error answer, in the metrics, in any log entry
// or in a snapshot of the state.
func TestSecrets_NeverInLogsErrorsMetricsLogEntriesOrSnapshots(t *testing.T) {
	t.Parallel()
	var logs testkit.Buffer
	n := newLeader(t, func(c *Config) {
		c.NodeSecret = leakNodeSecret
		c.Credential = peerauth.NewCredential([]byte(leakCredential))
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	l := &leakRun{t: t, n: n, secrets: []string{leakNodeSecret, leakCredential, "elastic-pw", "alice-pw", "tokman-pw", "monty-pw",
		"bob-secret-1", "bob-secret-2", "wrong-pw-123", "guessed-pw-456", "wrong-node-secret-9"}}
	admin := basicAuth("elastic", "elastic-pw")

	l.do("PUT", "/_security/user/bob", `{"password":"bob-secret-1","roles":[]}`, admin...).want(t, 200)
	l.do("PUT", "/_security/user/bob/_password", `{"password":"bob-secret-2"}`, admin...).want(t, 200)
	l.do("POST", "/_security/oauth2/token", `{"grant_type":"password","username":"bob","password":"bob-secret-1"}`).want(t, 401)
	l.pair(l.do("POST", "/_security/oauth2/token", `{"grant_type":"password","username":"bob","password":"bob-secret-2"}`))
	l.do("POST", "/_security/user/bob/_disable", "", admin...).want(t, 200)
	l.do("POST", "/_security/user/bob/_enable", "", admin...).want(t, 200)
	l.do("DELETE", "/_security/user/bob", "", admin...).want(t, 200)

	_, spent := l.pair(l.do("POST", "/_security/oauth2/token", `{"grant_type":"password","username":"alice","password":"alice-pw"}`))
	l.pair(l.do("POST", "/_security/oauth2/token", refreshBody(spent)))
	n.node.log.clock.advance(40 * time.Second)
	l.do("POST", "/_security/oauth2/token", refreshBody(spent)).want(t, 400) // replayed after the window

	access, refresh := l.pair(l.do("POST", "/_security/oauth2/token", `{"grant_type":"password","username":"alice","password":"alice-pw"}`))
	l.pair(l.do("POST", "/_security/oauth2/token", refreshBody(refresh)))
	l.pair(l.do("POST", "/_security/oauth2/token", refreshBody(refresh))) // retried in the window: the sealed pair
	client, _ := l.pair(l.do("POST", "/_security/oauth2/token", `{"grant_type":"client_credentials"}`, basicAuth("alice", "alice-pw")...))
	l.do("GET", "/_security/_authenticate", "", bearer(client)...).want(t, 200)
	l.do("DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, access)).want(t, 200)
	l.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 401)
	_, other := l.pair(l.do("POST", "/_security/oauth2/token", `{"grant_type":"password","username":"alice","password":"alice-pw"}`))
	l.do("DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"refresh_token":%q}`, other)).want(t, 200)
	l.do("DELETE", "/_security/oauth2/token", `{"username":"alice"}`, basicAuth("tokman", "tokman-pw")...).want(t, 200)
	l.do("POST", "/_security/oauth2/token", refreshBody(other)).want(t, 400)
	l.do("POST", "/_security/oauth2/token", `{"grant_type":"password","username":"alice","password":"alice-pw"`).want(t, 400)

	limited := false
	for range credentials.UserFailureBurst + 1 {
		r := l.do("GET", "/_security/_authenticate", "", basicAuth("tokman", "wrong-pw-123")...)
		limited = r.status == 429
	}
	if !limited {
		t.Fatal("Basic failures past the burst were not answered 429")
	}
	l.do("POST", "/_security/oauth2/token", `{"grant_type":"password","username":"tokman","password":"guessed-pw-456"}`).want(t, 429)
	q := peerauth.Request{Method: "GET", Target: "/_tokend/cluster/status", Audience: "n1", BodyDigest: peerauth.BodyDigest(nil)}
	l.do("GET", "/_tokend/cluster/status", "", headerNodeAuth, peerauth.Sign([]byte(leakCredential), q, time.Now())).want(t, 200)
	l.do("GET", "/_tokend/cluster/status", "", headerNodeSecret, leakNodeSecret).want(t, 401)
	l.do("GET", "/_tokend/cluster/status", "", headerNodeSecret, "wrong-node-secret-9").want(t, 401)
	l.do("POST", "/_tokend/cluster/join", `{"node_id":"n1"}`, headerNodeSecret, "wrong-node-secret-9").want(t, 401)
	l.do("POST", "/_tokend/cluster/join", `{"node_id":"n9","raft_addr":"h9:9300","http_addr":"h9:9200"}`,
		basicAuth("elastic", "elastic-pw")...).want(t, 200) // its answer carries the credential
	enrolled := l.do("POST", enrollPath, `{"ttl":"5m"}`, admin...).want(t, 200).json(t)["token"].(string)
	e, err := cluster.ParseEnrollment(enrolled)
	if err != nil {
		t.Fatal(err)
	}
	l.secrets = append(l.secrets, enrolled, e.Secret)
	join := `{"node_id":"n8","raft_addr":"h8:9300","http_addr":"h8:9200"}`
	l.do("POST", "/_tokend/cluster/join", join, headerEnrollment, e.Secret).want(t, 200)
	l.do("POST", "/_tokend/cluster/join", join, headerEnrollment, e.Secret).want(t, 401) // spent
	metrics := n.do("GET", "/_prometheus/metrics", "", basicAuth("monty", "monty-pw")...).want(t, 200).body

	var entries, snap bytes.Buffer
	n.node.mu.Lock()
	for _, c := range n.node.proposals {
		e, err := fsm.Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		entries.Write(e)
	}
	n.node.mu.Unlock()
	if _, err := n.node.state.Snapshot().WriteTo(&snap); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=DEBUG") || l.answers.Len() == 0 || snap.Len() == 0 {
		t.Fatal("the workload left no debug log, error answers or snapshot to search: the test proves nothing")
	}
	for where, data := range map[string][]byte{"the log": logs.Bytes(), "an error answer": l.answers.Bytes(),
		"the metrics": metrics, "a log entry": entries.Bytes(), "the snapshot": snap.Bytes()} {
		for _, s := range l.secrets {
			for _, needle := range secretForms(s) {
				if bytes.Contains(data, needle) {
					t.Errorf("%s holds secret %.8q...", where, s)
				}
			}
		}
	}
}

// secretForms are the ways a secret could leak: its text and, for a token,
// its random part in text and as raw bytes.
func secretForms(s string) [][]byte {
	forms := [][]byte{[]byte(s)}
	if len(s) > 43 && (strings.HasPrefix(s, credentials.AccessPrefix) || strings.HasPrefix(s, credentials.RefreshPrefix)) {
		body := s[len(s)-43:]
		forms = append(forms, []byte(body))
		if raw, err := base64.RawURLEncoding.DecodeString(body); err == nil {
			forms = append(forms, raw)
		}
	}
	return forms
}
