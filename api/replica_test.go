package api

import (
	"context"
	"testing"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
)

// joinAs posts a join request to n as a node would.
func joinAs(n *testNode, body string) resp {
	return n.do("POST", "/_tokend/cluster/join", body, n.proofFor("", "POST", "/_tokend/cluster/join", body)...)
}

// nodeEntry returns the entry of id in n's GET /_tokend/cluster/nodes.
func nodeEntry(t *testing.T, n *testNode, id string) map[string]any {
	t.Helper()
	for _, raw := range n.do("GET", "/_tokend/cluster/nodes", "", basicAuth("monty", "monty-pw")...).want(t, 200).json(t)["nodes"].([]any) {
		if e := raw.(map[string]any); e["id"] == id {
			return e
		}
	}
	t.Fatalf("node %s not listed", id)
	return nil
}

// startReplica starts a caught-up node r1 with Config.Replica that the
// leader's configuration does not hold yet, and joins it as a replica.
func startReplica(t *testing.T, leader *testNode) *testNode {
	t.Helper()
	r := startNode(t, newFakeFollower("r1", leader.node), func(c *Config) { c.Replica = true })
	leader.node.set(func(f *fakeNode) {
		f.servers = f.servers[:len(f.servers)-1] // not a member until it joins
	})
	body := `{"node_id":"r1","raft_addr":"r1:9300","http_addr":"` + r.srv.cfg.HTTPAdvertise + `","replica":true}`
	joinAs(leader, body).want(t, 200)
	if err := r.node.WaitApplied(context.Background(), leader.node.logLen()); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPromoter_NeverPromotesAReplica(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	startReplica(t, leader)
	if !leader.node.state.IsReplica("r1") {
		t.Fatal("the join did not record the replica mark")
	}
	for range 3 {
		leader.srv.cluster.Members().PromoteCaughtUp(context.Background())
	}
	if len(leader.node.promoted) != 0 {
		t.Fatalf("a caught-up replica was promoted: %v", leader.node.promoted)
	}
	servers, _ := leader.node.Servers()
	for _, s := range servers {
		if s.ID == "r1" && s.Voter {
			t.Fatal("the replica is a voter")
		}
	}
}

func TestNodesAndStatus_ShowAReplicaWithLagAndLease(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	r := startReplica(t, leader)
	e := nodeEntry(t, leader, "r1")
	if e["role"] != "replica" || e["voter"] != false || e["lag_entries"] != float64(0) || e["lease_held"] != false {
		t.Fatalf("replica entry before a grant: %v", e)
	}
	if v := nodeEntry(t, leader, "n1"); v["role"] != "voter" {
		t.Fatalf("leader entry: %v", v)
	}
	// r1 renews its lease: the leader records the grant.
	leader.do("GET", "/_tokend/cluster/read_index", "", leader.proofFor("r1", "GET", "/_tokend/cluster/read_index", "")...).want(t, 200)
	leader.issueDirect("alice", fsm.NativeRealm, 0) // the replica applies only when asked: one entry behind
	e = nodeEntry(t, leader, "r1")
	if e["lease_held"] != true || e["lease_left_ms"].(float64) <= 0 || e["lag_entries"] != float64(1) {
		t.Fatalf("replica entry after a grant and a new entry: %v", e)
	}
	st := r.do("GET", "/_tokend/cluster/status", "", basicAuth("monty", "monty-pw")...).want(t, 200).json(t)
	if st["role"] != "replica" || st["state"] != "non-voter" {
		t.Fatalf("replica status: %v", st)
	}
}

func TestJoin_AVoterCannotTurnIntoAReplica(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	leader.node.set(func(f *fakeNode) {
		f.servers = append(f.servers, raftnode.Server{ID: "n2", Address: "h2:9300", Voter: true})
	})
	joinAs(leader, `{"node_id":"n2","raft_addr":"h2:9300","http_addr":"h2:9200","has_state":true,"replica":true}`).wantError(t, 400,
		"illegal_argument_exception", "node [n2] is a voter and cannot become a replica: remove it, wipe its data dir and join it again with --replica")
	if leader.node.state.IsReplica("n2") {
		t.Fatal("a refused join marked the voter as a replica")
	}
}
