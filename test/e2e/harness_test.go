package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// superPassword is the elastic user's password in every test cluster.
const superPassword = "e2e-superuser-pw"

// binPath is the tokend binary built once for the package.
var binPath string

func TestMain(m *testing.M) {
	testkit.RunWithTokend(m, &binPath, "")
}

// proc is one tokend server process.
type proc struct {
	t        *testing.T
	id       string
	httpAddr string
	raftAddr string
	dataDir  string
	args     []string
	env      []string
	cmd      *exec.Cmd
	done     chan struct{}
	exitErr  error
	out      *testkit.Buffer
}

// URL is the node's HTTP base URL.
func (p *proc) URL() string { return "http://" + p.httpAddr }

// newProc prepares (does not start) a node with fresh ports and data dir.
func newProc(t *testing.T, id string, extra ...string) *proc {
	p := &proc{t: t, id: id, httpAddr: testkit.FreeAddr(t), raftAddr: testkit.FreeAddr(t), dataDir: filepath.Join(t.TempDir(), id)}
	p.args = append([]string{"serve", "--node-id", id, "--http-addr", p.httpAddr, "--raft-addr", p.raftAddr,
		"--data-dir", p.dataDir}, extra...)
	p.env = append(os.Environ(), "ELASTIC_PASSWORD="+superPassword, "TOKEND_NODE_SECRET="+e2eNodeSecret)
	p.out = &testkit.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log, last %d lines:\n%s", id, failLogLines, p.out.Tail(failLogLines))
		}
	})
	return p
}

// failLogLines is how much of each node's log a failed test prints.
const failLogLines = 120

// start runs the process; it is killed when the test ends.
func (p *proc) start() {
	p.t.Helper()
	p.cmd = exec.Command(binPath, p.args...)
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) {
		p.exitErr = c.Wait()
		close(done)
	}(p.cmd, p.done)
	p.t.Cleanup(func() { p.kill() })
}

// kill sends SIGKILL and waits for the process to go.
func (p *proc) kill() {
	if p.cmd == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stop sends SIGTERM and returns the exit error once the process is gone.
func (p *proc) stop() error {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exitErr
	case <-time.After(30 * time.Second):
		p.kill()
		return fmt.Errorf("%s did not stop within 30s after SIGTERM", p.id)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startCluster starts n nodes: the first bootstraps, the others join it. It
// returns when every node lists n voters and one leader.
func startCluster(t *testing.T, n int, extra ...string) []*proc {
	t.Helper()
	nodes := []*proc{newProc(t, "node1", append([]string{"--bootstrap"}, extra...)...)}
	nodes[0].start()
	waitReady(t, nodes[0])
	for i := 2; i <= n; i++ {
		p := newProc(t, fmt.Sprintf("node%d", i), append([]string{"--join", nodes[0].URL()}, extra...)...)
		p.start()
		nodes = append(nodes, p)
	}
	for _, p := range nodes {
		waitMembers(t, p, n)
	}
	return nodes
}

// waitReady polls the readiness endpoint.
func waitReady(t *testing.T, p *proc) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, p.id+" ready", func() error {
		if p.exited() {
			t.Fatalf("%s exited: %v\n%s", p.id, p.exitErr, p.out.String())
		}
		r, err := testkit.TryDo(p.URL(), "GET", "/_tokend/readyz", "", nil)
		if err != nil {
			return err
		}
		if r.Status != 200 {
			return fmt.Errorf("readyz %d", r.Status)
		}
		return nil
	})
}

// waitMembers polls until p reports n voters, a leader and a known HTTP
// address for every node.
func waitMembers(t *testing.T, p *proc, n int) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, p.id+" sees the cluster", func() error {
		if p.exited() {
			t.Fatalf("%s exited: %v\n%s", p.id, p.exitErr, p.out.String())
		}
		r, err := testkit.TryDo(p.URL(), "GET", "/_tokend/cluster/nodes", "", testkit.Basic("elastic", superPassword))
		if err != nil {
			return err
		}
		if r.Status != 200 {
			return fmt.Errorf("nodes: %d %s", r.Status, r.Body)
		}
		var v struct {
			Leader string `json:"leader"`
			Nodes  []struct {
				Voter    bool   `json:"voter"`
				HTTPAddr string `json:"http_addr"`
			} `json:"nodes"`
		}
		if err := json.Unmarshal(r.Body, &v); err != nil {
			return err
		}
		voters := 0
		for _, nd := range v.Nodes {
			if nd.Voter && nd.HTTPAddr != "" {
				voters++
			}
		}
		if v.Leader == "" || voters != n {
			return fmt.Errorf("leader %q, %d voters with addresses: %s", v.Leader, voters, r.Body)
		}
		return nil
	})
}

// do sends one request to p.
func do(t *testing.T, p *proc, method, path, body string, h http.Header) testkit.Response {
	t.Helper()
	return testkit.Do(t, p.URL(), method, path, body, h)
}
