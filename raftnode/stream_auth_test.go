package raftnode

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokend/tokend/raftnode/peerauth"
	"github.com/tokend/tokend/test/testkit"
)

// Without TLS, a process that does not hold the node credential can neither
// learn the term nor append entries, whether it speaks hashicorp/raft's
// plain TCP transport or tokend's with another credential: the connection
// is closed before Raft reads it, and the members' term, log and users are
// untouched (issue 17, item 1).
func TestCredential_PeerWithoutTheCredentialCannotAppend(t *testing.T) {
	var mu sync.Mutex
	regs := map[string]*prometheus.Registry{}
	c := newCluster(t, 3, func(cfg *Config) {
		mu.Lock()
		defer mu.Unlock()
		regs[cfg.NodeID] = prometheus.NewRegistry()
		cfg.Metrics = regs[cfg.NodeID]
	})
	target := c.followers()[0]
	leader := c.leader()
	term := target.Stats().Term

	outsiders := map[string]*peerauth.Credential{
		"hashicorp/raft's plain TCP transport": nil,
		"another credential":                   peerauth.NewCredential([]byte("not-the-cluster-credential")),
	}
	for name, cred := range outsiders {
		trans := outsiderTransport(t, nil, cred)
		for _, n := range []*Node{target, leader} {
			a := testkit.ForgeUser(trans, n.ID(), n.Addr(), "intruder", []byte("hash"))
			if a.ProbeErr == nil {
				t.Errorf("%s: %s answered the probe, revealing term %d and last index %d", name, n.ID(), a.Probe.Term, a.Probe.LastLog)
			}
			if a.AppendErr == nil {
				t.Errorf("%s: %s answered the forged AppendEntries (success %v)", name, n.ID(), a.Append.Success)
			}
		}
		if err := trans.Close(); err != nil && !strings.Contains(err.Error(), "closed") {
			t.Errorf("%s: close: %v", name, err)
		}
	}
	if got := target.Stats().Term; got != term {
		t.Errorf("the rogue RPCs moved the follower's term from %d to %d", term, got)
	}
	// The accepting side counts a refusal when its handshake fails, which may
	// be a moment after the dialling side has given up.
	eventually(t, waitLong, func() bool {
		got, _ := scrapeRegistry(t, regs[target.ID()]).Value("tokend_node_raft_auth_failures_total")
		return got >= 4
	}, "tokend_node_raft_auth_failures_total counts the 4 refused connections")
	c.propose("after-the-rogue")
	c.waitConverged()
	for _, n := range c.live() {
		if _, ok := n.fsm.User("intruder"); ok {
			t.Errorf("%s holds the injected user", n.ID())
		}
	}
	c.sameState(target)
}

// A node configured with another credential than the cluster's cannot take
// part: the leader adds it, but can replicate nothing to it, and the
// cluster goes on without it.
func TestCredential_NodeWithAnotherCredentialGetsNoRaftTraffic(t *testing.T) {
	c := newCluster(t, 2, nil)
	other := peerauth.NewCredential([]byte("a-different-node-credential"))
	reg := prometheus.NewRegistry()
	c.tweak = func(cfg *Config) { cfg.Credential, cfg.Metrics = other, reg }
	stranger := c.nodes[c.add()]
	leader := c.leader()
	if err := leader.Join(testCtx(t), stranger.ID(), stranger.Addr()); err != nil {
		t.Fatalf("add the stranger as a non-voter: %v", err)
	}
	index := c.propose("while-the-stranger-waits")
	deadline := time.Now().Add(3 * testHeartbeat)
	for time.Now().Before(deadline) {
		if got := stranger.AppliedIndex(); got >= index {
			t.Fatalf("the stranger applied index %d: the leader replicated to it", got)
		}
		if id, _ := stranger.Leader(); id != "" {
			t.Fatalf("the stranger heard from leader %s", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := stranger.raft.LastIndex(); got != 0 {
		t.Fatalf("the stranger's log holds %d entries", got)
	}
	if got, _ := scrapeRegistry(t, reg).Value("tokend_node_raft_auth_failures_total"); got == 0 {
		t.Fatal("the stranger did not count the leader's refused connections")
	}

	// Given the cluster's credential, the same node catches up.
	other.Set([]byte("raftnode-test-credential"))
	eventually(t, waitLong, func() bool { return stranger.AppliedIndex() >= index },
		"the stranger catches up once it holds the cluster's credential")
}
