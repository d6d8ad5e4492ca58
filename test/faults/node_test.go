package faults

import (
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"

	"github.com/tokend/tokend/test/testkit"
)

// Credentials shared by every test cluster.
const (
	superPassword = "faults-superuser-pw"
	nodeSecret    = "faults-node-secret"
)

// node is one tokend process. Clients reach it directly on httpAddr; other
// nodes reach it only through its proxies, whose addresses it advertises.
type node struct {
	t         *testing.T
	id        string
	httpAddr  string
	raftAddr  string
	raftProxy *Proxy
	httpProxy *Proxy
	dataDir   string
	// joinArgs is --bootstrap or --join with its URLs.
	joinArgs []string
	out      *testkit.Buffer
	// uid, when not 0, is the user the process runs as, so that the
	// cluster's Firewall can tell its connections apart.
	uid uint32

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	paused bool
}

// URL is the node's own HTTP base URL, as clients use it.
func (n *node) URL() string { return "http://" + n.httpAddr }

// peerURL is the node's HTTP base URL through its proxy, as peers use it.
func (n *node) peerURL() string { return "http://" + n.httpProxy.Addr() }

// start runs the process, and has its proxies accept connections again.
func (n *node) start() {
	n.t.Helper()
	for _, p := range []*Proxy{n.raftProxy, n.httpProxy} {
		if err := p.Listen(); err != nil {
			n.t.Fatalf("%s proxy: %v", n.id, err)
		}
	}
	args := append([]string{"serve", "--node-id", n.id, "--http-addr", n.httpAddr, "--raft-addr", n.raftAddr,
		"--advertise-raft", n.raftProxy.Addr(), "--advertise-http", n.httpProxy.Addr(),
		"--data-dir", n.dataDir, "--token-timeout", "1h"}, n.joinArgs...)
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), "ELASTIC_PASSWORD="+superPassword, "TOKEND_NODE_SECRET="+nodeSecret)
	cmd.Stdout, cmd.Stderr = n.out, n.out
	if n.uid != 0 {
		if err := os.MkdirAll(n.dataDir, 0o700); err != nil {
			n.t.Fatal(err)
		}
		if err := os.Chown(n.dataDir, int(n.uid), int(n.uid)); err != nil {
			n.t.Fatal(err)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: n.uid, Gid: n.uid}}
	}
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	n.mu.Lock()
	n.cmd, n.done, n.paused = cmd, done, false
	n.mu.Unlock()
}

// running reports whether the process is alive (paused or not).
func (n *node) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// serving reports whether the node is alive and not paused.
func (n *node) serving() bool {
	n.mu.Lock()
	paused := n.paused
	n.mu.Unlock()
	return n.running() && !paused
}

// pid is the process id, 0 when not running.
func (n *node) pid() int {
	if !n.running() {
		return 0
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd.Process.Pid
}

// kill sends SIGKILL and waits for the process to go; its proxies then
// refuse connections, as the ports of a dead process do.
func (n *node) kill() {
	if !n.running() {
		return
	}
	defer n.raftProxy.Refuse()
	defer n.httpProxy.Refuse()
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	_ = cmd.Process.Kill()
	_ = cmd.Process.Signal(syscall.SIGCONT)
	<-done
}

// pause sends SIGSTOP; resume sends SIGCONT.
func (n *node) pause()  { n.signal(syscall.SIGSTOP, true) }
func (n *node) resume() { n.signal(syscall.SIGCONT, false) }

func (n *node) signal(sig syscall.Signal, paused bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	if err := n.cmd.Process.Signal(sig); err != nil {
		n.t.Errorf("%s: %v: %v", n.id, sig, err)
	}
	n.paused = paused
}

// wipe deletes the node's data dir (it must not be running).
func (n *node) wipe() {
	if err := os.RemoveAll(n.dataDir); err != nil {
		n.t.Fatal(err)
	}
}
