package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// enrollToken runs `tokend enroll` against p as the elastic user and
// returns the token it prints.
func enrollToken(t *testing.T, p *proc, extra ...string) string {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"enroll", "--addr", p.URL()}, extra...)...)
	cmd.Env = []string{"ELASTIC_PASSWORD=" + superPassword}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tokend enroll: %v: %s", err, stderr.String())
	}
	tok := strings.TrimSpace(stdout.String())
	if !strings.HasPrefix(tok, "tokend-enroll-v1.") {
		t.Fatalf("tokend enroll printed %q", tok)
	}
	return tok
}

// enrolledProc prepares a node that joins with token: no --node-secret, no
// ELASTIC_PASSWORD, the token in TOKEND_ENROLLMENT_TOKEN.
func enrolledProc(t *testing.T, id, token string, extra ...string) *proc {
	p := withoutNodeSecret(newProc(t, id, extra...))
	env := p.env[:0:0]
	for _, kv := range p.env {
		if !strings.HasPrefix(kv, "ELASTIC_PASSWORD=") {
			env = append(env, kv)
		}
	}
	p.env = append(env, "TOKEND_ENROLLMENT_TOKEN="+token)
	return p
}

// metricOf reads one unlabelled sample of p's metrics.
func metricOf(t *testing.T, p *proc, name string) float64 {
	t.Helper()
	body := do(t, p, "GET", "/_prometheus/metrics", "", testkit.Basic("elastic", superPassword)).Body
	m, err := testkit.ParseMetrics(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s metrics: %v", p.id, err)
	}
	v, ok := m.Value(name)
	if !ok {
		t.Fatalf("%s serves no %s", p.id, name)
	}
	return v
}

// A cluster started with no secret flag grows by enrollment tokens: a new
// node with neither a node secret nor the elastic password joins once with
// a token, a second node presenting the same token is refused and exits,
// and joins with a token of its own. Grants through a follower then go to
// the leader in batches (metrics), and neither the credential nor any
// token is found in the logs, the data dirs, the metrics or a backup.
func TestEnrollment_NoFlagsClusterEnrollsOnceAndBatches(t *testing.T) {
	flags := []string{"--raft-snapshot-threshold", "8", "--raft-snapshot-interval", "1s", "--log-level", "debug"}
	node1 := withoutNodeSecret(newProc(t, "node1", append([]string{"--bootstrap"}, flags...)...))
	node1.start()
	waitReady(t, node1)
	testkit.Eventually(t, 30*time.Second, "node1 created the elastic user", func() error {
		r, err := testkit.TryDo(node1.URL(), "GET", "/_security/_authenticate", "", testkit.Basic("elastic", superPassword))
		if err == nil && r.Status != 200 {
			err = fmt.Errorf("authenticate: %d", r.Status)
		}
		return err
	})
	first := enrollToken(t, node1, "--ttl", "10m")
	node2 := enrolledProc(t, "node2", first, flags...)
	node2.start()
	waitMembers(t, node2, 2)

	reused := enrolledProc(t, "node3", first, flags...)
	reused.start()
	testkit.Eventually(t, 30*time.Second, "node3 refuses to run with a spent token", func() error {
		if !reused.exited() {
			return fmt.Errorf("still running")
		}
		return nil
	})
	if out := reused.out.String(); !strings.Contains(out, "already used") || !strings.Contains(out, "401") {
		t.Fatalf("node3 with a spent token: %v\n%s", reused.exitErr, out)
	}
	second := enrollToken(t, node2) // through a follower
	node3 := enrolledProc(t, "node3", second, flags...)
	node3.start()
	nodes := []*proc{node1, node2, node3}
	for _, p := range nodes {
		waitMembers(t, p, 3)
	}

	leader, _ := raftMembers(t, node1)
	var follower *proc
	for _, p := range nodes {
		if p.id != leader {
			follower = p
		}
	}
	alice := `{"password":"enroll-alice-pw","roles":[]}`
	if r := do(t, node1, "PUT", "/_security/user/alice", alice, testkit.Basic("elastic", superPassword)); r.Status != 200 {
		t.Fatalf("create alice: %d %s", r.Status, r.Body)
	}
	var tokens []string
	for i := range 30 {
		r := do(t, follower, "POST", "/_security/oauth2/token", `{"grant_type":"client_credentials"}`,
			testkit.Basic("alice", "enroll-alice-pw"))
		if r.Status != 200 {
			t.Fatalf("grant %d through %s: %d %s", i, follower.id, r.Status, r.Body)
		}
		tokens = append(tokens, string(r.Body))
	}
	if b := metricOf(t, follower, "tokend_token_batches_forwarded_total"); b < 1 {
		t.Errorf("%s posted %v batches: a no-flags cluster does not batch", follower.id, b)
	}
	if u := metricOf(t, follower, "tokend_token_grants_unbatched_total"); u != 0 {
		t.Errorf("%s forwarded %v grants unbatched", follower.id, u)
	}

	var exposed bytes.Buffer
	for _, p := range nodes {
		testkit.Eventually(t, 60*time.Second, p.id+" wrote a snapshot", func() error {
			if countSnapshots(p.dataDir) == 0 {
				return fmt.Errorf("no snapshot under %s", p.dataDir)
			}
			return nil
		})
		exposed.Write(do(t, p, "GET", "/_prometheus/metrics", "", testkit.Basic("elastic", superPassword)).Body)
	}
	exposed.Write(do(t, node1, "GET", "/_tokend/snapshot", "", testkit.Basic("elastic", superPassword)).Body)
	credential := readCredential(t, node1)
	for _, p := range nodes {
		if err := p.stop(); err != nil {
			t.Fatalf("stop %s: %v", p.id, err)
		}
		if c := readCredential(t, p); c != credential {
			t.Errorf("%s holds another node credential than node1", p.id)
		}
	}
	secrets := []string{credential, first, second, enrollmentSecret(t, first), enrollmentSecret(t, second)}
	needles := needlesFor(t, secrets)
	for _, p := range nodes {
		scanDataDir(t, p.dataDir, needles, "node-credential")
		assertNoNeedle(t, p.id+" output", []byte(p.out.String()), needles)
	}
	assertNoNeedle(t, "the refused node's output", []byte(reused.out.String()), needles)
	assertNoNeedle(t, "the metrics or the downloaded backup", exposed.Bytes(), needles)
}
