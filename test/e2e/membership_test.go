package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

var admin = testkit.Basic("elastic", superPassword)

// memberView is one entry of GET /_tokend/cluster/nodes.
type memberView struct {
	ID           string  `json:"id"`
	RaftAddr     string  `json:"raft_addr"`
	HTTPAddr     string  `json:"http_addr"`
	Voter        bool    `json:"voter"`
	Leader       bool    `json:"leader"`
	State        string  `json:"state"`
	AppliedIndex *uint64 `json:"applied_index"`
	Reachable    bool    `json:"reachable"`
}

// members fetches p's view of the cluster, by node ID; an error while p
// does not answer 200.
func members(p *proc) (map[string]memberView, error) {
	r, err := testkit.TryDo(p.URL(), "GET", "/_tokend/cluster/nodes", "", admin)
	if err != nil {
		return nil, err
	}
	if r.Status != 200 {
		return nil, fmt.Errorf("nodes on %s: %d %s", p.id, r.Status, r.Body)
	}
	var v struct {
		Nodes []memberView `json:"nodes"`
	}
	if err := json.Unmarshal(r.Body, &v); err != nil {
		return nil, err
	}
	out := map[string]memberView{}
	for _, n := range v.Nodes {
		out[n.ID] = n
	}
	return out, nil
}

// waitHealthy polls p until it lists exactly ids, each a reachable voter
// caught up with one leader: the cluster is whole again.
func waitHealthy(t *testing.T, p *proc, ids ...string) {
	t.Helper()
	testkit.Eventually(t, 60*time.Second, p.id+" sees a whole cluster", func() error {
		m, err := members(p)
		if err != nil {
			return err
		}
		leaders := 0
		for _, id := range ids {
			n, ok := m[id]
			if !ok || !n.Voter || !n.Reachable {
				return fmt.Errorf("%s: %+v (listed %v)", id, n, ok)
			}
			if n.Leader {
				leaders++
			}
		}
		if len(m) != len(ids) || leaders != 1 {
			return fmt.Errorf("%d members, %d leaders: %+v", len(m), leaders, m)
		}
		return nil
	})
}

// doRetry sends a request to p again while it answers 503 (an election or
// a hand-over, which clients retry), for up to 30 s.
func doRetry(t *testing.T, p *proc, method, path, body string, h http.Header) testkit.Response {
	t.Helper()
	var r testkit.Response
	testkit.Eventually(t, 30*time.Second, method+" "+path+" on "+p.id, func() error {
		var err error
		if r, err = testkit.TryDo(p.URL(), method, path, body, h); err != nil {
			return err
		}
		if r.Status == 503 {
			return fmt.Errorf("503 %s", r.Body)
		}
		return nil
	})
	return r
}

// waitLog polls p's output until it holds a line containing every part.
func waitLog(t *testing.T, p *proc, timeout time.Duration, parts ...string) {
	t.Helper()
	testkit.Eventually(t, timeout, fmt.Sprintf("%s logs %q", p.id, parts), func() error {
		for _, line := range strings.Split(p.out.String(), "\n") {
			all := true
			for _, part := range parts {
				all = all && strings.Contains(line, part)
			}
			if all {
				return nil
			}
		}
		return errors.New("not in its output yet")
	})
}

// moveTo gives p new HTTP and Raft addresses for its next start.
func (p *proc) moveTo(httpAddr, raftAddr string) {
	for i := 0; i+1 < len(p.args); i++ {
		switch p.args[i] {
		case "--http-addr":
			p.args[i+1] = httpAddr
		case "--raft-addr":
			p.args[i+1] = raftAddr
		}
	}
	p.httpAddr, p.raftAddr = httpAddr, raftAddr
}

func TestOperator_JoinPromotesThenNodesTransferLeaderAndRemoveADeadNode(t *testing.T) {
	nodes := startCluster(t, 3)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	for _, id := range []string{"node2", "node3"} {
		waitLog(t, n1, 10*time.Second, "join: server admitted", "id="+id, "voter=false")
		waitLog(t, n1, 10*time.Second, "promoted caught-up non-voter to voter", "id="+id)
	}

	out := mustCLI(t, "nodes", "--addr", n2.URL())
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "STATE") || !strings.Contains(lines[0], "LAST CONTACT") ||
		!strings.Contains(lines[0], "APPLIED") || !strings.Contains(lines[0], "REACHABLE") {
		t.Fatalf("nodes table:\n%s", out)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, " yes ") || !(strings.Contains(l, " leader ") || strings.Contains(l, " follower ")) {
			t.Fatalf("nodes row %q in:\n%s", l, out)
		}
	}

	if out := mustCLI(t, "transfer-leader", "node3", "--addr", n2.URL()); out != "leader is now node3\n" {
		t.Fatalf("transfer-leader: %q", out)
	}
	testkit.Eventually(t, 10*time.Second, "node1 sees node3 lead", func() error {
		if m, err := members(n1); err != nil || !m["node3"].Leader {
			return fmt.Errorf("%+v %v", m, err)
		}
		return nil
	})

	n2.kill()
	var raw map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, "nodes", "--json", "--addr", n1.URL())), &raw); err != nil {
		t.Fatal(err)
	}
	if m, _ := members(n1); m["node2"].Reachable || m["node2"].State != "unknown" || m["node2"].AppliedIndex != nil || len(m) != 3 {
		t.Fatalf("a dead member must be listed as unreachable: %+v", m)
	}
	if out := mustCLI(t, "remove", "node2", "--addr", n1.URL()); out != "removed node node2\n" {
		t.Fatalf("remove: %q", out)
	}
	waitHealthy(t, n1, "node1", "node3")
	if code, _, errOut := cli(t, "remove", "node2", "--addr", n3.URL()); code == 0 || !strings.Contains(errOut, "not a member") {
		t.Fatalf("removing it twice: exit %d, %s", code, errOut)
	}
}

func TestRemovedNode_RestartWithOldDataIsRefusedAndLogsIt(t *testing.T) {
	nodes := startCluster(t, 3)
	n1, n3 := nodes[0], nodes[2]
	n3.kill()
	if r := doRetry(t, n1, "DELETE", "/_tokend/cluster/nodes/node3", "", admin); r.Status != 200 {
		t.Fatalf("remove node3: %d %s", r.Status, r.Body)
	}
	n3.start() // same data dir and command line (--join node1)
	waitLog(t, n3, 30*time.Second, "level=ERROR", "this node was removed from the cluster", "wipe the data dir and --join again")
	r := do(t, n3, "GET", "/_tokend/readyz", "", nil)
	if r.Status != 503 || !strings.Contains(r.String(), "removed from the cluster") {
		t.Fatalf("readyz on the removed node: %d %s", r.Status, r.Body)
	}
	// Once it campaigns with its stale configuration, the members refuse
	// it (it is not in theirs) rather than giving up their leader.
	testkit.Eventually(t, 30*time.Second, "node3 campaigns or stands down", func() error {
		if n3.out.HasLine("entering candidate state") || n3.out.HasLine("not part of", "stable configuration") {
			return nil
		}
		return errors.New("node3 has neither campaigned nor stood down")
	})
	if n3.out.HasLine("entering candidate state") {
		testkit.Eventually(t, 30*time.Second, "a member refuses node3's campaign", func() error {
			for _, p := range nodes[:2] {
				if p.out.HasLine("rejecting", "vote request since node is not in configuration") {
					return nil
				}
			}
			return errors.New("no refusal logged")
		})
	}
	waitHealthy(t, n1, "node1", "node2")
}

func TestRestart_AtNewAddressesRejoinsUnderTheSameID(t *testing.T) {
	nodes := startCluster(t, 3)
	n1, n3 := nodes[0], nodes[2]
	access, _ := getToken(t, n1, "elastic", superPassword)
	if err := n3.stop(); err != nil {
		t.Fatalf("stop node3: %v", err)
	}
	n3.moveTo(testkit.FreeAddr(t), testkit.FreeAddr(t))
	n3.start()
	waitLog(t, n3, 20*time.Second, "the Raft address changed since the last run")
	testkit.Eventually(t, 60*time.Second, "node3 re-addressed", func() error {
		m, err := members(n1)
		if err != nil {
			return err
		}
		if n := m["node3"]; n.RaftAddr != n3.raftAddr || n.HTTPAddr != n3.httpAddr || !n.Voter || !n.Reachable {
			return fmt.Errorf("node3: %+v", n)
		}
		return nil
	})
	waitHealthy(t, n1, "node1", "node2", "node3")
	// Right after the move its state may still be catching up: 503, retried.
	if r := doRetry(t, n3, "GET", "/_security/_authenticate", "", testkit.Bearer(access)); r.Status != 200 {
		t.Fatalf("the moved node answers %d for a token issued before the move: %s", r.Status, r.Body)
	}
}
