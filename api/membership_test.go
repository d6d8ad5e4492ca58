package api

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
	"github.com/tokend/tokend/raftnode/cluster"
	"github.com/tokend/tokend/test/testkit"
)

// newLoggedFollower is newFollower with its log written to the returned
// buffer.
func newLoggedFollower(t *testing.T, leader *testNode) (*testNode, *testkit.Buffer) {
	t.Helper()
	buf := &testkit.Buffer{}
	n := startNode(t, newFakeFollower("n2", leader.node), func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(buf, nil))
	})
	leader.propose(&fsm.SetNode{NodeID: "n2", HTTPAddr: n.srv.cfg.HTTPAdvertise})
	if err := n.node.WaitApplied(context.Background(), leader.node.logLen()); err != nil {
		t.Fatal(err)
	}
	return n, buf
}

// setVoter changes the suffrage of id in n's configuration.
func setVoter(n *testNode, id string, voter bool) {
	n.node.set(func(f *fakeNode) {
		for i := range f.servers {
			if f.servers[i].ID == id {
				f.servers[i].Voter = voter
			}
		}
	})
}

func TestStatus_OwnViewForANodeOrMonitor(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	setVoter(leader, "n2", false)
	follower.do("GET", "/_tokend/cluster/status", "").want(t, 401)
	follower.do("GET", "/_tokend/cluster/status", "", leader.proofFor("n1", "GET", "/_tokend/cluster/status", "")...).want(t, 401)
	follower.do("GET", "/_tokend/cluster/status", "", basicAuth("alice", "alice-pw")...).want(t, 403)
	follower.do("GET", "/_tokend/cluster/status", "", basicAuth("monty", "monty-pw")...).want(t, 200)
	m := follower.do("GET", "/_tokend/cluster/status", "", follower.proofFor("n1", "GET", "/_tokend/cluster/status", "")...).want(t, 200).json(t)
	if m["id"] != "n2" || m["state"] != "non-voter" || m["leader_id"] != "n1" || m["cluster_uuid"] != "test-uuid" ||
		m["applied_index"] != float64(leader.node.logLen()) || m["removed"] != false || m["last_contact_ms"] == nil {
		t.Fatalf("status: %v", m)
	}
	if members := m["members"].([]any); len(members) != 2 || members[0] != "n1" || members[1] != "n2" {
		t.Fatalf("members: %v", members)
	}
	if m := leader.do("GET", "/_tokend/cluster/status", "", leader.proofFor("n2", "GET", "/_tokend/cluster/status", "")...).json(t); m["state"] != "leader" ||
		m["last_contact_ms"] != float64(0) {
		t.Fatalf("leader status: %v", m)
	}
}

func TestNodes_FansOutToMembersAndListsUnreachableOnes(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	newFollower(t, leader) // n2 answers as a follower
	leader.node.set(func(f *fakeNode) {
		f.servers = append(f.servers, raftnode.Server{ID: "n3", Address: "n3:9300", Voter: true})
	})
	leader.propose(&fsm.SetNode{NodeID: "n3", HTTPAddr: "127.0.0.1:1"})
	r := leader.do("GET", "/_tokend/cluster/nodes", "", basicAuth("monty", "monty-pw")...).want(t, 200)
	nodes := r.json(t)["nodes"].([]any)
	states := map[string]string{}
	for _, raw := range nodes {
		n := raw.(map[string]any)
		states[n["id"].(string)] = n["state"].(string)
		if reachable := n["id"] != "n3"; n["reachable"] != reachable || (n["applied_index"] == nil) == reachable {
			t.Fatalf("node %v", n)
		}
	}
	if len(nodes) != 3 || states["n1"] != "leader" || states["n2"] != "follower" || states["n3"] != "unknown" {
		t.Fatalf("nodes: %s", r.body)
	}
}

func TestPromoter_PromotesANonVoterOnlyOnceItHasCaughtUp(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	setVoter(leader, "n2", false)
	for i := range cluster.PromoteMaxLag + 1 { // the fake follower applies only when asked
		leader.issueDirect("alice", fsm.NativeRealm, time.Duration(i))
	}
	leader.srv.cluster.Members().PromoteCaughtUp(context.Background())
	if len(leader.node.promoted) != 0 {
		t.Fatalf("a lagging non-voter was promoted: %v", leader.node.promoted)
	}
	if err := follower.node.WaitApplied(context.Background(), leader.node.logLen()); err != nil {
		t.Fatal(err)
	}
	leader.srv.cluster.Members().PromoteCaughtUp(context.Background())
	leader.srv.cluster.Members().PromoteCaughtUp(context.Background())
	if len(leader.node.promoted) != 1 || leader.node.promoted[0] != "n2" {
		t.Fatalf("promoted %v, want n2 once", leader.node.promoted)
	}
}

func TestJoin_HasStateAndWipedVoterRules(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	join := func(body string) resp {
		return n.do("POST", "/_tokend/cluster/join", body, n.proofFor("", "POST", "/_tokend/cluster/join", body)...)
	}
	join(`{"node_id":"ghost","raft_addr":"g:9300","http_addr":"g:9200","has_state":true}`).wantError(t, 400,
		"illegal_argument_exception", "node [ghost] has Raft state but is not a member of the cluster: it was removed; wipe its data dir and join again")
	join(`{"node_id":"n1","raft_addr":"x:9300","http_addr":"x:9200"}`).wantError(t, 400,
		"illegal_argument_exception", "node [n1] is the leader; a node with an empty data dir cannot take its ID")
	n.node.set(func(f *fakeNode) {
		f.servers = append(f.servers, raftnode.Server{ID: "n2", Address: "h2:9300", Voter: true})
	})
	join(`{"node_id":"n2","raft_addr":"h2:9300","http_addr":"h2:9200","has_state":true}`).want(t, 200)
	if len(n.node.removed) != 0 {
		t.Fatalf("a member re-joining with its state was removed: %v", n.node.removed)
	}
	join(`{"node_id":"n2","raft_addr":"h2:9300","http_addr":"h2:9200"}`).want(t, 200)
	if len(n.node.removed) != 1 || n.node.servers[1].Voter {
		t.Fatalf("a wiped voter was not re-added as a non-voter: removed %v, servers %v", n.node.removed, n.node.servers)
	}
}

func TestTransferLeader_Route(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	admin := basicAuth("elastic", "elastic-pw")
	leader.do("POST", "/_tokend/cluster/transfer_leader", "", basicAuth("monty", "monty-pw")...).want(t, 403)
	leader.do("POST", "/_tokend/cluster/transfer_leader", `{"node_id":"n9"}`, admin...).wantError(t, 404,
		"resource_not_found_exception", "node [n9] is not a member of the cluster")
	setVoter(leader, "n2", false)
	leader.do("POST", "/_tokend/cluster/transfer_leader", `{"node_id":"n2"}`, admin...).wantError(t, 400,
		"illegal_argument_exception", "node [n2] is not a voter and cannot lead")
	setVoter(leader, "n2", true)
	leader.do("POST", "/_tokend/cluster/transfer_leader", `{"node_id":"n1"}`, admin...).want(t, 200)
	leader.node.onTransfer = func(string) { follower.node.set(func(f *fakeNode) { f.leader, f.leaderID = true, "n2" }) }
	r := leader.do("POST", "/_tokend/cluster/transfer_leader", "", admin...).want(t, 200)
	if string(r.body) != `{"acknowledged":true,"leader":"n2"}` {
		t.Fatalf("transfer: %s", r.body)
	}
}

func TestRemove_TheLeaderHandsOverAndTheNewLeaderCompletesIt(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	leader.node.onTransfer = func(string) { follower.node.set(func(f *fakeNode) { f.leader, f.leaderID = true, "n2" }) }
	r := leader.do("DELETE", "/_tokend/cluster/nodes/n1", "", basicAuth("elastic", "elastic-pw")...).want(t, 200)
	if r.header.Get(headerServedBy) != "n2" || len(follower.node.removed) != 1 || follower.node.removed[0] != "n1" {
		t.Fatalf("served by %q, removed on the new leader %v", r.header.Get(headerServedBy), follower.node.removed)
	}
	if _, ok := follower.srv.state.NodeAddr("n1"); ok {
		t.Fatal("the removed leader's HTTP address is still recorded")
	}
	// The only voter left cannot be removed.
	follower.do("DELETE", "/_tokend/cluster/nodes/n2", "", basicAuth("elastic", "elastic-pw")...).wantError(t, 400,
		"illegal_argument_exception", "node [n2] is the cluster's only voter and cannot be removed")
}

// A node that forwards its own removal gets no applied index to wait for:
// replication to it stops with the removal, so it might never apply the
// entry, and would answer a timeout for a removal that was done. Another
// node that forwards a removal still waits for it.
func TestRemove_ForwardedByTheRemovedNodeCarriesNoIndexToWaitFor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		forwardedBy string
		wantIndex   bool
	}{{"n2", false}, {"n3", true}} {
		leader := newLeader(t, nil)
		newFollower(t, leader)
		r := leader.do("DELETE", "/_tokend/cluster/nodes/n2", "",
			append(basicAuth("elastic", "elastic-pw"), headerForwarded, c.forwardedBy)...).want(t, 200)
		if got := r.header.Get(headerAppliedIndex) != ""; got != c.wantIndex {
			t.Errorf("removal of n2 forwarded by %s: applied index %q, want one: %v", c.forwardedBy, r.header.Get(headerAppliedIndex), c.wantIndex)
		}
	}
}

func TestQuorumLost_WritesSayHowManyVotersAreReachable(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	follower.node.set(func(f *fakeNode) {
		f.leaderID = ""
		f.servers = append(f.servers, raftnode.Server{ID: "n3", Address: "n3:9300", Voter: true})
	})
	leader.ts.Close()
	grant := `{"grant_type":"password","username":"alice","password":"alice-pw"}`
	// Just started: it has not had the time to reach its peers, so it
	// claims nothing about them.
	r := follower.do("POST", "/_security/oauth2/token", grant)
	if r.status != 503 || !strings.Contains(string(r.body), "is still reaching its peers") || strings.Contains(string(r.body), "quorum lost") {
		t.Fatalf("within the start-up grace: %d %s", r.status, r.body)
	}
	follower.srv.cluster.Members().EndStartupGrace()
	r = follower.do("POST", "/_security/oauth2/token", grant)
	r.wantError(t, 503, "master_not_discovered_exception", "no leader: quorum lost, 1 of 3 voters reachable")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After on a quorum-lost 503")
	}
	follower.do("GET", "/_tokend/readyz", "").wantError(t, 503, "status_exception",
		"not ready: no leader: quorum lost, 1 of 3 voters reachable")
	// Monitoring still answers, authenticated against the last known state.
	m := follower.do("GET", "/_cluster/health", "", basicAuth("elastic", "elastic-pw")...).want(t, 200).json(t)
	if m["status"] != "red" || m["number_of_nodes"] != float64(1) {
		t.Fatalf("health without quorum: %v", m)
	}
	nodes := follower.do("GET", "/_tokend/cluster/nodes", "", basicAuth("elastic", "elastic-pw")...).want(t, 200).json(t)
	if len(nodes["nodes"].([]any)) != 3 || nodes["leader"] != "" {
		t.Fatalf("nodes without quorum: %v", nodes)
	}
	follower.do("GET", "/_cluster/health", "", basicAuth("alice", "alice-pw")...).want(t, 403)
}

func TestRemovedNode_SaysSoInItsLogReadyzAndAnswers(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower, logs := newLoggedFollower(t, leader)
	// The cluster removed n2 while n2 still lists itself and knows no leader.
	leader.node.set(func(f *fakeNode) { f.servers = []raftnode.Server{f.servers[0]} })
	follower.node.set(func(f *fakeNode) {
		f.servers = []raftnode.Server{{ID: "n1", Address: "n1:9300", Voter: true}, {ID: "n2", Address: "n2:9300", Voter: true}}
		f.leaderID, f.lastContact = "", time.Time{}
	})
	follower.srv.cluster.Members().CheckRemoved(context.Background())
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "this node was removed from the cluster") {
		t.Fatalf("no error logged:\n%s", logs)
	}
	follower.do("GET", "/_tokend/readyz", "").wantError(t, 503, "status_exception", "not ready: "+cluster.RemovedReason)
	// It answers nothing from its stale state, health included.
	follower.do("GET", "/_cluster/health", "", basicAuth("monty", "monty-pw")...).
		wantError(t, 503, "master_not_discovered_exception", cluster.RemovedReason)
	follower.do("POST", "/_security/oauth2/token", `{"grant_type":"password","username":"alice","password":"alice-pw"}`).
		wantError(t, 503, "master_not_discovered_exception", cluster.RemovedReason)
	// Contact with a leader again (the node was re-added) clears it.
	follower.node.set(func(f *fakeNode) { f.leaderID, f.lastContact = "n1", time.Now() })
	follower.srv.cluster.Members().CheckRemoved(context.Background())
	follower.do("GET", "/_tokend/readyz", "").want(t, 200)
}

func TestRemovedCheck_AMemberIsNotReportedRemoved(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower, logs := newLoggedFollower(t, leader)
	follower.node.set(func(f *fakeNode) { f.leaderID, f.lastContact = "", time.Time{} })
	follower.srv.cluster.Members().CheckRemoved(context.Background())
	if follower.srv.cluster.Members().Removed() || strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a member reported itself removed:\n%s", logs)
	}
}

func TestAnnounce_AFollowerWithANewHTTPAddressTellsTheLeader(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	leader.propose(&fsm.SetNode{NodeID: "n2", HTTPAddr: "old-host:9200"})
	if err := follower.node.WaitApplied(context.Background(), leader.node.logLen()); err != nil {
		t.Fatal(err)
	}
	follower.srv.cluster.Members().Announce(context.Background())
	if addr, _ := leader.srv.state.NodeAddr("n2"); addr != follower.srv.cfg.HTTPAdvertise {
		t.Fatalf("leader records n2 at %q, want %q", addr, follower.srv.cfg.HTTPAdvertise)
	}
	if joins := leader.node.joins; len(joins) != 1 || joins[0] != "n2@n2:9300" {
		t.Fatalf("joins on the leader: %v", joins)
	}
}
