package gateway

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// superPassword is the elastic user's password in the test cluster.
const superPassword = "gateway-superuser-pw"

// binPath is the tokend binary built once for the package.
var binPath string

func TestMain(m *testing.M) {
	testkit.RunWithTokend(m, &binPath, "TOKEND_BIN")
}

// node is one tokend process.
type node struct {
	id       string
	httpAddr string
	out      *testkit.Buffer
	cmd      *exec.Cmd
	done     chan struct{}
}

// URL is the node's HTTP base URL.
func (n *node) URL() string { return "http://" + n.httpAddr }

// startNode starts a tokend process with extra flags; it is killed when
// the test ends.
func startNode(t *testing.T, id string, extra ...string) *node {
	t.Helper()
	n := &node{id: id, httpAddr: testkit.FreeAddr(t), out: &testkit.Buffer{}, done: make(chan struct{})}
	args := append([]string{"serve", "--node-id", id, "--http-addr", n.httpAddr, "--raft-addr", testkit.FreeAddr(t),
		"--data-dir", filepath.Join(t.TempDir(), id)}, extra...)
	n.cmd = exec.Command(binPath, args...)
	n.cmd.Env = append(os.Environ(), "ELASTIC_PASSWORD="+superPassword, "TOKEND_NODE_SECRET=gateway-node-secret")
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		_ = n.cmd.Process.Kill()
		<-n.done
		if t.Failed() {
			t.Logf("%s log:\n%s", id, n.out.Tail(60))
		}
	})
	return n
}

// startCluster starts three nodes, the first bootstrapping, and returns once
// every node sees three voters and a leader.
func startCluster(t *testing.T) []*node {
	t.Helper()
	first := startNode(t, "node1", "--bootstrap")
	waitStatus(t, first, "/_tokend/readyz", nil, 200)
	nodes := []*node{first, startNode(t, "node2", "--join", first.URL()), startNode(t, "node3", "--join", first.URL())}
	for _, n := range nodes {
		testkit.Eventually(t, 60*time.Second, n.id+" sees the cluster", func() error {
			r, err := testkit.TryDo(n.URL(), "GET", "/_tokend/cluster/nodes", "", testkit.Basic("elastic", superPassword))
			if err != nil {
				return err
			}
			var v struct {
				Leader string `json:"leader"`
				Nodes  []struct {
					Voter    bool   `json:"voter"`
					HTTPAddr string `json:"http_addr"`
				} `json:"nodes"`
			}
			if r.Status != 200 || json.Unmarshal(r.Body, &v) != nil {
				return fmt.Errorf("nodes: %d %s", r.Status, r.Body)
			}
			voters := 0
			for _, nd := range v.Nodes {
				if nd.Voter && nd.HTTPAddr != "" {
					voters++
				}
			}
			if v.Leader == "" || voters != 3 {
				return fmt.Errorf("leader %q, %d voters: %s", v.Leader, voters, r.Body)
			}
			return nil
		})
	}
	return nodes
}

// waitStatus polls base+path until it answers status.
func waitStatus(t *testing.T, n *node, path string, h map[string][]string, status int) {
	t.Helper()
	testkit.Eventually(t, 60*time.Second, n.id+" "+path, func() error {
		select {
		case <-n.done:
			t.Fatalf("%s exited:\n%s", n.id, n.out.String())
		default:
		}
		r, err := testkit.TryDo(n.URL(), "GET", path, "", h)
		if err != nil {
			return err
		}
		if r.Status != status {
			return fmt.Errorf("%d %s", r.Status, r.Body)
		}
		return nil
	})
}
