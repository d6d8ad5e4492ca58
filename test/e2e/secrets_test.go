package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/test/testkit"
)

// e2eNodeSecret is the node secret newProc gives every node.
const e2eNodeSecret = "e2e-node-secret-5d2c"

// leakWorkload records a run's secrets and every error answer it got.
type leakWorkload struct {
	t       *testing.T
	call    func(node int, method, path, body string, h http.Header) testkit.Response
	secrets []string
	answers bytes.Buffer
}

// do makes one request on node i and keeps its answer if it is an error.
func (w *leakWorkload) do(i int, method, path, body string, h http.Header, want int) testkit.Response {
	w.t.Helper()
	r := w.call(i, method, path, body, h)
	if r.Status >= 400 {
		fmt.Fprintf(&w.answers, "%d %v %s\n", r.Status, r.Header, r.Body)
	}
	if want != 0 && r.Status != want {
		w.t.Fatalf("%s %s on node %d: %d, want %d: %s", method, path, i, r.Status, want, r.Body)
	}
	return r
}

// grant makes a token request that must succeed and takes its tokens as
// secrets.
func (w *leakWorkload) grant(i int, body string, h http.Header) (access, refresh string) {
	w.t.Helper()
	m := w.do(i, "POST", "/_security/oauth2/token", body, h, 200).JSON(w.t)
	access, _ = m["access_token"].(string)
	refresh, _ = m["refresh_token"].(string)
	w.secrets = append(w.secrets, access)
	if refresh != "" {
		w.secrets = append(w.secrets, refresh)
	}
	return access, refresh
}

func passwordBody(user, pw string) string {
	return fmt.Sprintf(`{"grant_type":"password","username":%q,"password":%q}`, user, pw)
}

func refreshBody(tok string) string {
	return fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, tok)
}

// run drives every operation that handles a secret across nodes nodes
// (requests rotate over them): user create, password change, disable,
// enable and delete; password, client_credentials and refresh grants; a
// retry in the refresh window and, once the 30 s window has passed, a
// replay that revokes the family; invalidation by token, refresh token and
// username; Basic and password-grant failures past the rate limit (429);
// the node secret right and wrong. It returns the metrics text and a
// snapshot downloaded at the end.
func (w *leakWorkload) run(nodes int) (metrics, snapshot []byte) {
	t := w.t
	admin := testkit.Basic("elastic", superPassword)
	w.secrets = append(w.secrets, superPassword, e2eNodeSecret, "leaky-first-pw", "leaky-second-pw",
		"leaky-wrong-pw", "ghost-guess-pw", "wrong-node-secret", "gone-first-pw")
	node := func(i int) int { return i % nodes }

	_, spent := w.grant(0, passwordBody("elastic", superPassword), nil)
	w.grant(node(1), refreshBody(spent), nil)
	spentAt := time.Now()

	w.do(node(1), "PUT", "/_security/user/leaky", `{"password":"leaky-first-pw","roles":["superuser"]}`, admin, 200)
	w.do(node(2), "POST", "/_security/user/leaky/_password", `{"password":"leaky-second-pw"}`, admin, 200)
	w.do(0, "PUT", "/_security/user/gone", `{"password":"gone-first-pw","roles":[]}`, admin, 200)
	goneAccess, goneRefresh := w.grant(node(1), passwordBody("gone", "gone-first-pw"), nil)
	w.do(node(2), "POST", "/_security/user/gone/_disable", "", admin, 200)
	w.do(0, "POST", "/_security/user/gone/_enable", "", admin, 200)
	w.do(node(1), "DELETE", "/_security/user/gone", "", admin, 200)
	w.do(node(2), "GET", "/_security/_authenticate", "", testkit.Bearer(goneAccess), 401)
	w.do(0, "POST", "/_security/oauth2/token", refreshBody(goneRefresh), nil, 400)

	for i := range 3 {
		_, refresh := w.grant(node(i), passwordBody("leaky", "leaky-second-pw"), nil)
		w.grant(node(i+1), refreshBody(refresh), nil)
		w.grant(node(i+2), refreshBody(refresh), nil) // retried in the window: the sealed pair
	}
	client, _ := w.grant(0, `{"grant_type":"client_credentials"}`, admin)
	w.do(node(1), "GET", "/_security/_authenticate", "", testkit.Bearer(client), 200)
	w.do(node(2), "DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, client), nil, 200)
	_, other := w.grant(0, passwordBody("leaky", "leaky-second-pw"), nil)
	w.do(node(1), "DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"refresh_token":%q}`, other), nil, 200)
	w.do(node(2), "DELETE", "/_security/oauth2/token", `{"username":"leaky"}`, admin, 200)

	w.do(0, "POST", "/_security/oauth2/token", passwordBody("leaky", "leaky-wrong-pw"), nil, 401)
	// The username's burst is 10 failures, and one comes back every
	// UserFailureEvery: under load, when each failure's bcrypt comparison
	// is slow, the 11th may find one returned, so a 429 is due by the 11th
	// failure plus one for each period the failures took.
	start, limitedAt := time.Now(), 0
	for i := 1; i <= 40 && limitedAt == 0; i++ {
		if w.do(0, "GET", "/_security/_authenticate", "", testkit.Basic("ghost", "ghost-guess-pw"), 0).Status == 429 {
			limitedAt = i
		}
	}
	if due := credentials.UserFailureBurst + 1 + int(time.Since(start)/credentials.UserFailureEvery); limitedAt <= credentials.UserFailureBurst || limitedAt > due {
		t.Fatalf("Basic failures were first answered 429 at failure %d (0: never), want after the burst of %d and by failure %d",
			limitedAt, credentials.UserFailureBurst, due)
	}
	w.do(0, "POST", "/_security/oauth2/token", passwordBody("ghost", "ghost-guess-pw"), nil, 429)
	w.do(node(1), "GET", "/_tokend/cluster/status", "", http.Header{"X-Tokend-Node-Secret": {e2eNodeSecret}}, 401)
	w.do(node(1), "GET", "/_tokend/cluster/status", "", http.Header{"X-Tokend-Node-Secret": {"wrong-node-secret"}}, 401)

	// The refresh token spent first is replayed once its retry window is
	// over: the service can only tell by the clock, so the test waits for it.
	testkit.Eventually(t, 45*time.Second, "the retry window of the first refresh passed", func() error {
		if left := 31*time.Second - time.Since(spentAt); left > 0 {
			return fmt.Errorf("%v of the window left", left.Round(time.Second))
		}
		return nil
	})
	w.do(node(2), "POST", "/_security/oauth2/token", refreshBody(spent), nil, 400)

	for i := range nodes {
		metrics = append(metrics, w.do(i, "GET", "/_prometheus/metrics", "", admin, 200).Body...)
	}
	snapshot = w.do(0, "GET", "/_tokend/snapshot", "", admin, 200).Body
	return metrics, snapshot
}

// TestNoPlaintextSecretsInDataDirOrLogs runs the leak workload on a
// three-node cluster logging at debug level, makes every node write a Raft
// snapshot, stops the cluster and then searches every file in the data
// directories, every line the processes printed, every error answer, the
// metrics and a downloaded snapshot for the plaintexts (and the tokens' raw
// random bytes).
func TestNoPlaintextSecretsInDataDirOrLogs(t *testing.T) {
	t.Parallel() // its wait for the refresh window overlaps the other leak test's
	nodes := startCluster(t, 3, "--raft-snapshot-threshold", "8", "--raft-snapshot-interval", "1s", "--log-level", "debug",
		"--audit", "--audit-include", "_all")
	w := &leakWorkload{t: t, call: func(i int, method, path, body string, h http.Header) testkit.Response {
		return do(t, nodes[i], method, path, body, h)
	}}
	metrics, snap := w.run(len(nodes))

	for _, p := range nodes {
		testkit.Eventually(t, 60*time.Second, p.id+" wrote a snapshot", func() error {
			if n := countSnapshots(p.dataDir); n == 0 {
				return fmt.Errorf("no snapshot under %s", p.dataDir)
			}
			return nil
		})
	}
	for _, p := range nodes {
		if err := p.stop(); err != nil {
			t.Fatalf("stop %s: %v", p.id, err)
		}
	}

	replayLogged := false
	for _, p := range nodes {
		replayLogged = replayLogged || p.out.HasLine("level=WARN", "refresh token replayed", "user=elastic", "realm=reserved")
	}
	if !replayLogged {
		t.Error("the replay after the retry window was not logged as a WARN naming the user and realm")
	}
	needles := needlesFor(t, w.secrets)
	for _, p := range nodes {
		scanDataDir(t, p.dataDir, needles)
		if !strings.Contains(p.out.String(), "level=DEBUG") {
			t.Fatalf("%s logged nothing at debug level: the scan of its log proves less than it claims", p.id)
		}
		assertNoNeedle(t, p.id+" output", []byte(p.out.String()), needles)
	}
	digests := digestNeedles(w.secrets)
	for _, p := range nodes {
		data, err := os.ReadFile(auditFile(p))
		if err != nil || !bytes.Contains(data, []byte(`"token_refreshed"`)) {
			t.Fatalf("%s audit file holds no refresh: the scan would prove nothing (%v)", p.id, err)
		}
		assertNoNeedle(t, p.id+" audit file", data, needles)
		assertNoNeedle(t, p.id+" audit file", data, digests)
	}
	assertNoNeedle(t, "an error answer", w.answers.Bytes(), needles)
	assertNoNeedle(t, "the metrics", metrics, needles)
	assertNoNeedle(t, "the downloaded snapshot", snap, needles)
}

// scanDataDir asserts that no file under dir holds a needle, except files
// named in skip.
func scanDataDir(t *testing.T, dir string, needles map[string][]byte, skip ...string) {
	t.Helper()
	scanned := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || slices.Contains(skip, d.Name()) {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		assertNoNeedle(t, path, data, needles)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 2 {
		t.Fatalf("only %d files under %s: the scan would prove nothing", scanned, dir)
	}
}

// countSnapshots counts Raft snapshot state files under dir.
func countSnapshots(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(path, "snapshots") && d.Name() == "state.bin" {
			n++
		}
		return nil
	})
	return n
}

// needlesFor returns each secret as text and, for tokens, its raw random
// bytes (the part after the version prefix, base64url-decoded).
func needlesFor(t *testing.T, secrets []string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for i, s := range secrets {
		if s == "" {
			t.Fatalf("secret %d is empty", i)
		}
		out[fmt.Sprintf("secret %d (text)", i)] = []byte(s)
		if len(s) >= 43 {
			if raw, err := base64.RawURLEncoding.DecodeString(s[len(s)-43:]); err == nil {
				out[fmt.Sprintf("secret %d (raw bytes)", i)] = raw
			}
		}
	}
	return out
}

// digestNeedles returns the SHA-256 digest of each secret, raw and in hex:
// the form tokens are stored in, which the audit trail must not show.
func digestNeedles(secrets []string) map[string][]byte {
	out := map[string][]byte{}
	for i, s := range secrets {
		d := sha256.Sum256([]byte(s))
		out[fmt.Sprintf("secret %d (digest)", i)] = d[:]
		out[fmt.Sprintf("secret %d (hex digest)", i)] = []byte(hex.EncodeToString(d[:]))
	}
	return out
}

func assertNoNeedle(t *testing.T, where string, data []byte, needles map[string][]byte) {
	t.Helper()
	for name, n := range needles {
		if bytes.Contains(data, n) {
			t.Errorf("%s holds %s in plaintext", where, name)
		}
	}
}
