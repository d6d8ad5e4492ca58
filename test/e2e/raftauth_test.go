package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/test/testkit"
)

// withoutNodeSecret drops the harness's TOKEND_NODE_SECRET from p's
// environment: the node then relies on the generated node credential.
func withoutNodeSecret(p *proc) *proc {
	env := p.env[:0:0]
	for _, kv := range p.env {
		if !strings.HasPrefix(kv, "TOKEND_NODE_SECRET=") {
			env = append(env, kv)
		}
	}
	p.env = env
	return p
}

// startPlainCluster is startCluster without --node-secret and without TLS:
// node1 bootstraps and generates the credential, the others join with the
// elastic user's password and receive it in the join answer.
func startPlainCluster(t *testing.T, n int, extra ...string) []*proc {
	t.Helper()
	nodes := []*proc{withoutNodeSecret(newProc(t, "node1", append([]string{"--bootstrap"}, extra...)...))}
	nodes[0].start()
	waitReady(t, nodes[0])
	for i := 2; i <= n; i++ {
		p := withoutNodeSecret(newProc(t, fmt.Sprintf("node%d", i), append([]string{"--join", nodes[0].URL()}, extra...)...))
		p.start()
		nodes = append(nodes, p)
	}
	for _, p := range nodes {
		waitMembers(t, p, n)
	}
	return nodes
}

// raftMembers returns the leader's ID and every member's Raft address as
// node p lists them.
func raftMembers(t *testing.T, p *proc) (leader string, addrs map[string]string) {
	t.Helper()
	var v struct {
		Leader string `json:"leader"`
		Nodes  []struct {
			ID       string `json:"id"`
			RaftAddr string `json:"raft_addr"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(do(t, p, "GET", "/_tokend/cluster/nodes", "", testkit.Basic("elastic", superPassword)).Body, &v); err != nil {
		t.Fatal(err)
	}
	addrs = map[string]string{}
	for _, n := range v.Nodes {
		addrs[n.ID] = n.RaftAddr
	}
	return v.Leader, addrs
}

// The attack of issue 17 (item 1) on a cluster formed without --node-secret
// and without TLS: hashicorp/raft's own TCP transport asks the leader and a
// follower for their term with an AppendEntries of term 0, then sends
// term+1 carrying a PutUser of a superuser with the commit index past it.
// Every RPC must fail without an answer, the user must not exist anywhere,
// and the cluster must go on serving.
func TestRaftPort_RefusesAnOutsidersAppendEntries(t *testing.T) {
	nodes := startPlainCluster(t, 3)
	leaderID, addrs := raftMembers(t, nodes[0])
	follower := ""
	for id := range addrs {
		if id != leaderID {
			follower = id
			break
		}
	}
	trans, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 2*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer trans.Close()
	hash, err := bcrypt.GenerateFromPassword([]byte("intruder-pw"), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{leaderID, follower} {
		a := testkit.ForgeUser(trans, id, addrs[id], "intruder", hash)
		if a.ProbeErr == nil {
			t.Errorf("%s answered the term-0 probe, revealing term %d and last index %d", id, a.Probe.Term, a.Probe.LastLog)
		}
		if a.AppendErr == nil {
			t.Errorf("%s answered the forged AppendEntries (success %v)", id, a.Append.Success)
		}
	}

	admin := testkit.Basic("elastic", superPassword)
	testkit.Eventually(t, 15*time.Second, "the cluster takes a write after the attack", func() error {
		if r := do(t, nodes[1], "PUT", "/_security/user/after-attack", `{"password":"after-attack-pw","roles":[]}`, admin); r.Status != 200 {
			return fmt.Errorf("%d %s", r.Status, r.Body)
		}
		return nil
	})
	for _, p := range nodes {
		testkit.Eventually(t, 10*time.Second, p.id+" serves the write made after the attack", func() error {
			if r := do(t, p, "GET", "/_security/_authenticate", "", testkit.Basic("after-attack", "after-attack-pw")); r.Status != 200 {
				return fmt.Errorf("%d %s", r.Status, r.Body)
			}
			return nil
		})
		if r := do(t, p, "GET", "/_security/_authenticate", "", testkit.Basic("intruder", "intruder-pw")); r.Status != 401 {
			t.Errorf("%s: the injected user authenticates: %d %s", p.id, r.Status, r.Body)
		}
	}
	refused := false
	for _, p := range nodes {
		refused = refused || p.out.HasLine("level=WARN", "raft connection refused", "remote=127.0.0.1:")
	}
	if !refused {
		t.Error("no node logged the refused Raft connections at WARN")
	}
}

// A cluster formed with no secret flag: every data dir keeps the same
// generated credential with mode 0600, the joiners say at WARN that it came
// over plain http, a restarted member and a new joiner take part, and the
// credential appears in no log line (debug level), no Raft log or snapshot
// file, no backup and no metric.
func TestNodeCredential_GeneratedKeptSharedAndNeverLeaked(t *testing.T) {
	flags := []string{"--raft-snapshot-threshold", "8", "--raft-snapshot-interval", "1s", "--log-level", "debug"}
	nodes := startPlainCluster(t, 3, flags...)
	var credential []byte
	for _, p := range nodes {
		path := filepath.Join(p.dataDir, "node-credential")
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s: %v", p.id, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %s has mode %v, want 0600", p.id, path, fi.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.TrimSpace(b)
		if len(b) < 32 {
			t.Fatalf("%s: credential of %d bytes", p.id, len(b))
		}
		if credential == nil {
			credential = b
		} else if !bytes.Equal(b, credential) {
			t.Errorf("%s holds another credential than node1", p.id)
		}
	}
	for _, p := range nodes[1:] {
		waitLog(t, p, 5*time.Second, "level=WARN", "node credential over plain http")
	}

	admin := testkit.Basic("elastic", superPassword)
	writeUsers := func(from, to int) {
		for i := from; i < to; i++ {
			body := fmt.Sprintf(`{"password":"cred-user-pw-%d","roles":[]}`, i)
			if r := do(t, nodes[i%len(nodes)], "PUT", fmt.Sprintf("/_security/user/cred-user-%d", i), body, admin); r.Status != 200 {
				t.Fatalf("write %d: %d %s", i, r.Status, r.Body)
			}
		}
	}
	writeUsers(0, 12)
	if err := nodes[2].stop(); err != nil {
		t.Fatalf("stop node3: %v", err)
	}
	nodes[2].start()
	waitMembers(t, nodes[2], 3)
	testkit.Eventually(t, 15*time.Second, "the restarted node3 catches up", func() error {
		if r := do(t, nodes[2], "GET", "/_security/_authenticate", "", testkit.Basic("cred-user-11", "cred-user-pw-11")); r.Status != 200 {
			return fmt.Errorf("%d %s", r.Status, r.Body)
		}
		return nil
	})
	late := withoutNodeSecret(newProc(t, "node4", append([]string{"--join", nodes[1].URL()}, flags...)...))
	late.start()
	nodes = append(nodes, late)
	waitMembers(t, late, 4)
	writeUsers(12, 24) // enough for node4 to write a snapshot of its own

	var exposed bytes.Buffer
	for _, p := range nodes {
		testkit.Eventually(t, 60*time.Second, p.id+" wrote a snapshot", func() error {
			if countSnapshots(p.dataDir) == 0 {
				return fmt.Errorf("no snapshot under %s", p.dataDir)
			}
			return nil
		})
		exposed.Write(do(t, p, "GET", "/_prometheus/metrics", "", admin).Body)
	}
	exposed.Write(do(t, nodes[0], "GET", "/_tokend/snapshot", "", admin).Body)
	for _, p := range nodes {
		if err := p.stop(); err != nil {
			t.Fatalf("stop %s: %v", p.id, err)
		}
	}
	needles := needlesFor(t, []string{string(credential)})
	for _, p := range nodes {
		scanDataDir(t, p.dataDir, needles, "node-credential")
		assertNoNeedle(t, p.id+" output", []byte(p.out.String()), needles)
	}
	assertNoNeedle(t, "the metrics or the downloaded backup", exposed.Bytes(), needles)
}
