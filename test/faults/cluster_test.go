package faults

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// cluster is three tokend processes whose node-to-node traffic passes
// through fault-injecting proxies.
type cluster struct {
	t     *testing.T
	nodes []*node
	// replica is a read replica (addReplica) outside nodes: the scenarios
	// inject faults into the voters only, while the workload reads from it
	// too; nil when the cluster has none.
	// replica is the read replica, when addReplica started one; proxies
	// read it from their own goroutines (pids), hence the atomic.
	replica atomic.Pointer[node]
	// control answers the harness's own status requests; it gives up fast
	// so that a paused node does not hold the harness.
	control *http.Client
	// fw cuts links by dropping packets; nil where iptables cannot be used
	// (see useFirewall).
	fw *Firewall
}

// failLogLines is how much of each node's log a failed test prints.
const failLogLines = 80

// startCluster starts n nodes: the first bootstraps, the others join it
// through its proxy. It returns once every node sees n voters and a leader.
func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c := &cluster{t: t, control: &http.Client{Timeout: 2 * time.Second}}
	owner := SocketOwner{Pids: c.pids}
	root := t.TempDir()
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("node%d", i)
		c.nodes = append(c.nodes, &node{t: t, id: id, httpAddr: testkit.FreeAddr(t), raftAddr: testkit.FreeAddr(t),
			dataDir: filepath.Join(root, id), out: &testkit.Buffer{}})
	}
	// The proxies start once c.nodes is complete: they read it to tell
	// nodes apart.
	for _, nd := range c.nodes {
		var err error
		if nd.raftProxy, err = NewProxy("127.0.0.1:0", nd.raftAddr, owner.Owner); err != nil {
			t.Fatal(err)
		}
		if nd.httpProxy, err = NewProxy("127.0.0.1:0", nd.httpAddr, owner.Owner); err != nil {
			t.Fatal(err)
		}
	}
	c.useFirewall(root)
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.kill()
			nd.raftProxy.Close()
			nd.httpProxy.Close()
			if t.Failed() {
				t.Logf("%s log, last %d lines:\n%s", nd.id, failLogLines, nd.out.Tail(failLogLines))
			}
			if dir := os.Getenv("TOKEND_FAULT_LOGS"); dir != "" {
				if err := os.WriteFile(filepath.Join(dir, nd.id+".log"), nd.out.Bytes(), 0o600); err != nil {
					t.Errorf("saving %s's log: %v", nd.id, err)
				}
			}
		}
	})
	c.nodes[0].joinArgs = []string{"--bootstrap"}
	c.nodes[0].start()
	for _, nd := range c.nodes[1:] {
		nd.joinArgs = []string{"--join", c.nodes[0].peerURL()}
		nd.start()
	}
	c.waitHealthy(60 * time.Second)
	return c
}

// use makes t the test that cluster and node failures are reported to,
// until the returned function restores the previous one: scenarios run as
// subtests of the test that owns the cluster.
func (c *cluster) use(t *testing.T) (restore func()) {
	prev := c.t
	c.t = t
	for _, nd := range c.nodes {
		nd.t = t
	}
	return func() {
		c.t = prev
		for _, nd := range c.nodes {
			nd.t = prev
		}
	}
}

// pids maps the id of every running node to its process id.
func (c *cluster) pids() map[string]int {
	out := map[string]int{}
	for _, nd := range c.all() {
		if pid := nd.pid(); pid != 0 {
			out[nd.id] = pid
		}
	}
	return out
}

// all returns the voters and the replica, if any.
func (c *cluster) all() []*node {
	r := c.replica.Load()
	if r == nil {
		return c.nodes
	}
	return append(slices.Clone(c.nodes), r)
}

// addReplica starts a read replica, replica1, that joins through every
// voter's proxy, and waits until the cluster is healthy with it.
func (c *cluster) addReplica() {
	c.t.Helper()
	root := filepath.Dir(c.nodes[0].dataDir)
	owner := SocketOwner{Pids: c.pids}
	r := &node{t: c.t, id: "replica1", httpAddr: testkit.FreeAddr(c.t), raftAddr: testkit.FreeAddr(c.t),
		dataDir: filepath.Join(root, "replica1"), out: &testkit.Buffer{}}
	var err error
	if r.raftProxy, err = NewProxy("127.0.0.1:0", r.raftAddr, owner.Owner); err != nil {
		c.t.Fatal(err)
	}
	if r.httpProxy, err = NewProxy("127.0.0.1:0", r.httpAddr, owner.Owner); err != nil {
		c.t.Fatal(err)
	}
	t := c.t
	t.Cleanup(func() {
		r.kill()
		r.raftProxy.Close()
		r.httpProxy.Close()
		if t.Failed() {
			t.Logf("%s log, last %d lines:\n%s", r.id, failLogLines, r.out.Tail(failLogLines))
		}
	})
	r.joinArgs = []string{"--join", peerURLs(c.nodes), "--replica"}
	c.replica.Store(r)
	r.start()
	c.waitHealthy(60 * time.Second)
}

// node returns the node named id.
func (c *cluster) node(id string) *node {
	for _, nd := range c.nodes {
		if nd.id == id {
			return nd
		}
	}
	c.t.Fatalf("no node %s", id)
	return nil
}

// others returns the nodes other than those named.
func (c *cluster) others(ids ...string) []*node {
	var out []*node
	for _, nd := range c.nodes {
		if !slices.Contains(ids, nd.id) {
			out = append(out, nd)
		}
	}
	return out
}

// nodeStatus is the part of GET /_tokend/cluster/status the harness reads.
type nodeStatus struct {
	State    string   `json:"state"`
	LeaderID string   `json:"leader_id"`
	Term     uint64   `json:"term"`
	Members  []string `json:"members"`
	Removed  bool     `json:"removed"`
}

// status asks nd for its own status.
func (c *cluster) status(nd *node) (nodeStatus, error) {
	var st nodeStatus
	req, err := http.NewRequest("GET", nd.URL()+"/_tokend/cluster/status", nil)
	if err != nil {
		return st, err
	}
	req.SetBasicAuth("elastic", superPassword)
	resp, err := c.control.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return st, err
	}
	if resp.StatusCode != 200 {
		return st, fmt.Errorf("%s status: %d %s", nd.id, resp.StatusCode, body)
	}
	return st, json.Unmarshal(body, &st)
}

// healthy returns the leader's id if every node is running, counts every
// node (and the replica) as a member, is a voter (the replica a non-voter)
// and follows one leader in one term.
func (c *cluster) healthy() (string, error) {
	leader, term := "", uint64(0)
	all := c.all()
	for _, nd := range all {
		if !nd.serving() {
			return "", fmt.Errorf("%s is not running", nd.id)
		}
		st, err := c.status(nd)
		switch {
		case err != nil:
			return "", err
		case st.LeaderID == "" || (leader != "" && (st.LeaderID != leader || st.Term != term)):
			return "", fmt.Errorf("%s follows %q in term %d; others %q in term %d", nd.id, st.LeaderID, st.Term, leader, term)
		case len(st.Members) != len(all) || (nd == c.replica.Load()) != (st.State == "non-voter") ||
			(nd != c.replica.Load() && st.State != "leader" && st.State != "follower"):
			return "", fmt.Errorf("%s is %s with members %v", nd.id, st.State, st.Members)
		}
		leader, term = st.LeaderID, st.Term
	}
	return leader, nil
}

// waitHealthy polls until the cluster is healthy and returns its leader.
func (c *cluster) waitHealthy(timeout time.Duration) *node {
	c.t.Helper()
	var leader string
	testkit.Eventually(c.t, timeout, "a healthy cluster", func() error {
		var err error
		leader, err = c.healthy()
		return err
	})
	return c.node(leader)
}

// partition cuts every link between a node of one group and a node of
// another, in both directions. Nodes in no group keep all their links.
func (c *cluster) partition(mode Mode, groups ...[]*node) {
	for i, g := range groups {
		for _, h := range groups[i+1:] {
			for _, a := range g {
				for _, b := range h {
					c.cut(a, b, mode)
					c.cut(b, a, mode)
				}
			}
		}
	}
}

// cut blocks the link from src to dst (connections src dials to dst), for
// Raft and HTTP alike.
func (c *cluster) cut(src, dst *node, mode Mode) {
	dst.raftProxy.Block(src.id, mode)
	dst.httpProxy.Block(src.id, mode)
}

// heal unblocks every link, the replica's too.
func (c *cluster) heal() {
	for _, nd := range c.all() {
		nd.raftProxy.HealAll()
		nd.httpProxy.HealAll()
	}
	if c.fw != nil {
		if err := c.fw.Heal(); err != nil {
			c.t.Error(err)
		}
	}
}

// peerURLs returns the proxied HTTP URLs of nodes, as a --join value.
func peerURLs(nodes []*node) string {
	var out string
	for i, nd := range nodes {
		if i > 0 {
			out += ","
		}
		out += nd.peerURL()
	}
	return out
}

// requireProc skips the test where the proxies cannot tell nodes apart.
func requireProc(t *testing.T) {
	t.Helper()
	if !ProcAvailable() {
		t.Skip("the fault-injecting proxy identifies nodes through /proc/net/tcp, which this system lacks")
	}
}
