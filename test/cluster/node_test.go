package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tokend/tokend/api"
	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
	"github.com/tokend/tokend/raftnode/cluster"
	"github.com/tokend/tokend/raftnode/peerauth"
	"github.com/tokend/tokend/test/testkit"
)

const (
	superPassword = "cluster-test-pw"
	nodeSecret    = "cluster-test-secret"
)

// node is one in-process tokend node.
type node struct {
	t        *testing.T
	id       string
	dataDir  string
	raftAddr string
	httpAddr string
	started  bool     // it has run once: its addresses are known to the cluster
	snapshot uint64   // raft snapshot threshold; 0 keeps the default
	peers    []string // api.Config.Peers, as --join gives them
	logs     *testkit.Buffer

	clock func() time.Time // api.Config.Clock; nil is the real clock
	purge time.Duration    // api.Config.PurgeInterval; 0 keeps the default

	state  *fsm.FSM
	raft   *raftnode.Node
	api    *api.Server
	http   *http.Server
	cancel context.CancelFunc
	done   chan struct{}
}

// URL is the node's HTTP base URL.
func (n *node) URL() string { return "http://" + n.httpAddr }

// newNode reserves addresses and a data dir for a node.
func newNode(t *testing.T, id string) *node {
	return &node{t: t, id: id, dataDir: filepath.Join(t.TempDir(), id),
		raftAddr: testkit.FreeAddr(t), httpAddr: testkit.FreeAddr(t)}
}

// failLogLines is how much of each node's log a failed test prints.
const failLogLines = 80

// start opens the node's state, Raft and HTTP server, the way cmd/tokend does.
func (n *node) start() {
	n.t.Helper()
	if n.logs == nil {
		n.logs = &testkit.Buffer{}
		n.t.Cleanup(func() {
			if n.t.Failed() {
				n.t.Logf("%s log, last %d lines:\n%s", n.id, failLogLines, n.logs.Tail(failLogLines))
			}
		})
	}
	logger := slog.New(slog.NewTextHandler(n.logs, nil))
	n.state = fsm.New()
	cfg := raftnode.Config{NodeID: n.id, RaftBind: n.raftAddr, DataDir: n.dataDir, Logger: logger,
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		LeaderLeaseTimeout: 200 * time.Millisecond, SnapshotThreshold: n.snapshot, TrailingLogs: n.snapshot,
		Credential: peerauth.NewCredential([]byte(nodeSecret))}
	if err := cfg.Validate(); err != nil {
		n.t.Fatal(err)
	}
	rn, err := raftnode.Open(cfg, n.state)
	// Another test process may take a reserved port before this node binds
	// it; before its first start the node is known nowhere, so it takes
	// another.
	for tries := 0; err != nil && !n.started && errors.Is(err, syscall.EADDRINUSE) && tries < 5; tries++ {
		n.raftAddr = testkit.FreeAddr(n.t)
		cfg.RaftBind = n.raftAddr
		rn, err = raftnode.Open(cfg, n.state)
	}
	if err != nil {
		n.t.Fatal(err)
	}
	n.raft = rn
	l, err := net.Listen("tcp", n.httpAddr)
	for tries := 0; err != nil && !n.started && errors.Is(err, syscall.EADDRINUSE) && tries < 5; tries++ {
		n.httpAddr = testkit.FreeAddr(n.t)
		l, err = net.Listen("tcp", n.httpAddr)
	}
	if err != nil {
		n.t.Fatal(err)
	}
	srv, err := api.New(api.Config{NodeID: n.id, HTTPAdvertise: n.httpAddr, NodeSecret: nodeSecret,
		Credential: peerauth.NewCredential([]byte(nodeSecret)), RequestTimeout: 10 * time.Second, Logger: logger, Peers: n.peers,
		Clock: n.clock, PurgeInterval: n.purge}, rn, n.state)
	if err != nil {
		n.t.Fatal(err)
	}
	n.api = srv
	n.started = true
	n.http = &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func(srv *http.Server) { _ = srv.Serve(l) }(n.http)
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan struct{})
	go func() { defer close(n.done); srv.RunHousekeeping(ctx) }()
	n.t.Cleanup(n.stop)
}

// stop closes the node abruptly (no leadership transfer), like a crash of
// the HTTP and Raft endpoints; its data dir stays for a restart.
func (n *node) stop() {
	if n.http == nil {
		return
	}
	_ = n.http.Close()
	n.cancel()
	<-n.done
	_ = n.raft.Shutdown()
	n.http = nil
}

// pauseHTTP stops serving the node's API, as if its port were blocked;
// Raft and housekeeping go on.
func (n *node) pauseHTTP() {
	_ = n.http.Close()
	n.http = &http.Server{Handler: n.api.Handler(), ReadHeaderTimeout: 5 * time.Second}
}

// resumeHTTP serves the API again on the same address.
func (n *node) resumeHTTP() {
	l, err := net.Listen("tcp", n.httpAddr)
	if err != nil {
		n.t.Fatal(err)
	}
	go func(srv *http.Server) { _ = srv.Serve(l) }(n.http)
}

// startCluster starts n nodes; the first bootstraps, the others join it.
func startCluster(t *testing.T, count int, configure ...func(*node)) []*node {
	t.Helper()
	var nodes []*node
	for i := 1; i <= count; i++ {
		nd := newNode(t, fmt.Sprintf("n%d", i))
		for _, c := range configure {
			c(nd)
		}
		nodes = append(nodes, nd)
	}
	first := nodes[0]
	first.start()
	if err := first.raft.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := first.api.Bootstrap(ctx, superPassword); err != nil {
		t.Fatal(err)
	}
	for _, nd := range nodes[1:] {
		nd.start()
		req := cluster.JoinRequest{NodeID: nd.id, RaftAddr: nd.raftAddr, HTTPAddr: nd.httpAddr}
		if err := cluster.Join(ctx, []string{first.URL()}, req, nodeSecret, "", ""); err != nil {
			t.Fatalf("join %s: %v", nd.id, err)
		}
	}
	for _, nd := range nodes {
		waitMembers(t, nd, count)
	}
	return nodes
}

// waitMembers polls until nd knows the leader and the HTTP address of count
// voters.
func waitMembers(t *testing.T, nd *node, count int) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, nd.id+" sees the cluster", func() error {
		id, _ := nd.raft.Leader()
		if id == "" {
			return errors.New("no leader")
		}
		servers, err := nd.raft.Servers()
		if err != nil {
			return err
		}
		known := 0
		for _, s := range servers {
			if _, ok := nd.state.NodeAddr(s.ID); ok && s.Voter {
				known++
			}
		}
		if known != count {
			return fmt.Errorf("%d of %d voters with known addresses", known, count)
		}
		return nil
	})
}

// leader returns the running node that is leader, waiting for one.
func leader(t *testing.T, nodes []*node) *node {
	t.Helper()
	var found *node
	testkit.Eventually(t, 30*time.Second, "a leader", func() error {
		for _, nd := range nodes {
			if nd.http != nil && nd.raft.IsLeader() {
				found = nd
				return nil
			}
		}
		return errors.New("no running node is leader")
	})
	return found
}

// followers returns the running nodes that are not l.
func followers(nodes []*node, l *node) []*node {
	var out []*node
	for _, nd := range nodes {
		if nd != l && nd.http != nil {
			out = append(out, nd)
		}
	}
	return out
}

// do sends one request to nd.
func do(t *testing.T, nd *node, method, path, body string, h http.Header) testkit.Response {
	t.Helper()
	return testkit.Do(t, nd.URL(), method, path, body, h)
}

// listSnapshots lists the snapshot directories under a data dir.
func listSnapshots(dataDir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dataDir, "snapshots"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
