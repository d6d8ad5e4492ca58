package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/raftnode"
	"github.com/tokend/tokend/raftnode/cluster"
	"github.com/tokend/tokend/test/testkit"
)

// member returns id's entry in nd's configuration, and whether it is there.
func member(t *testing.T, nd *node, id string) (raftnode.Server, bool) {
	t.Helper()
	servers, err := nd.raft.Servers()
	if err != nil {
		t.Fatalf("servers on %s: %v", nd.id, err)
	}
	for _, s := range servers {
		if s.ID == id {
			return s, true
		}
	}
	return raftnode.Server{}, false
}

// urlsExcept returns the HTTP base URLs of nodes other than skip, as a
// --join list.
func urlsExcept(nodes []*node, skip *node) []string {
	var out []string
	for _, nd := range nodes {
		if nd != skip {
			out = append(out, nd.URL())
		}
	}
	return out
}

// nodesView is GET /_tokend/cluster/nodes.
type nodesView struct {
	Leader string `json:"leader"`
	Nodes  []struct {
		ID        string `json:"id"`
		RaftAddr  string `json:"raft_addr"`
		HTTPAddr  string `json:"http_addr"`
		Voter     bool   `json:"voter"`
		State     string `json:"state"`
		Reachable bool   `json:"reachable"`
	} `json:"nodes"`
}

// nodesOf fetches nd's nodes view.
func nodesOf(t *testing.T, nd *node) nodesView {
	t.Helper()
	r := do(t, nd, "GET", "/_tokend/cluster/nodes", "", admin)
	if r.Status != 200 {
		t.Fatalf("nodes on %s: %d %s", nd.id, r.Status, r.Body)
	}
	var v nodesView
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// doRetry sends one request to nd, again while it answers 503 (an election
// or a hand-over under way, which clients retry), for up to 20 s.
func doRetry(t *testing.T, nd *node, method, path, body string, h http.Header) testkit.Response {
	t.Helper()
	var r testkit.Response
	testkit.Eventually(t, 20*time.Second, method+" "+path+" on "+nd.id, func() error {
		if r = do(t, nd, method, path, body, h); r.Status == 503 {
			t.Logf("%s %s on %s: 503 %s", method, path, nd.id, r.Body)
			return fmt.Errorf("503 %s", r.Body)
		}
		return nil
	})
	return r
}

// writeWorks issues a token through nd, retrying 503s for a while.
func writeWorks(t *testing.T, nd *node) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, "a write through "+nd.id, func() error {
		r := do(t, nd, "POST", "/_security/oauth2/token",
			fmt.Sprintf(`{"grant_type":"password","username":"elastic","password":%q}`, superPassword), nil)
		if r.Status != 200 {
			return fmt.Errorf("%d %s", r.Status, r.Body)
		}
		return nil
	})
}

func TestMembership_JoinLandsAsNonVoterAndIsPromotedOnceItAnswersCaughtUp(t *testing.T) {
	nodes := startCluster(t, 1)
	first := nodes[0]
	n2 := newNode(t, "n2")
	n2.start()
	// With its API unreachable the leader cannot confirm that n2 has caught
	// up, so n2 must stay a non-voter although Raft replicates to it.
	n2.pauseHTTP()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := cluster.JoinRequest{NodeID: "n2", RaftAddr: n2.raftAddr, HTTPAddr: n2.httpAddr}
	if err := cluster.Join(ctx, []string{first.URL()}, req, nodeSecret, "", ""); err != nil {
		t.Fatalf("join: %v", err)
	}
	if s, ok := member(t, first, "n2"); !ok || s.Voter {
		t.Fatalf("n2 after join: %+v (member %v), want a non-voter", s, ok)
	}
	testkit.Eventually(t, 10*time.Second, "n2 receives the log", func() error {
		if got, want := n2.state.AppliedIndex(), first.state.AppliedIndex(); got < want {
			return fmt.Errorf("applied %d < %d", got, want)
		}
		return nil
	})
	// Two promoter rounds (one per second) must not promote it.
	for deadline := time.Now().Add(2500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s, _ := member(t, first, "n2"); s.Voter {
			t.Fatal("n2 was promoted although the leader could not ask it how far it has applied")
		}
	}
	n2.resumeHTTP()
	testkit.Eventually(t, 10*time.Second, "n2 promoted", func() error {
		if s, _ := member(t, first, "n2"); !s.Voter {
			return errors.New("still a non-voter")
		}
		return nil
	})
	testkit.Eventually(t, 10*time.Second, "the leader logs the promotion", func() error {
		if !first.logs.HasLine("promoted caught-up non-voter to voter", "id=n2") {
			return errors.New("not logged")
		}
		return nil
	})
}

func TestMembership_RemoveADeadNodeThroughAFollower(t *testing.T) {
	nodes := startCluster(t, 3)
	l := leader(t, nodes)
	fs := followers(nodes, l)
	dead, via := fs[0], fs[1]
	dead.stop()
	if r := doRetry(t, via, "DELETE", "/_tokend/cluster/nodes/"+dead.id, "", admin); r.Status != 200 {
		t.Fatalf("remove dead %s via %s: %d %s", dead.id, via.id, r.Status, r.Body)
	}
	if _, ok := member(t, l, dead.id); ok {
		t.Fatalf("%s still a member", dead.id)
	}
	if v := nodesOf(t, via); len(v.Nodes) != 2 {
		t.Fatalf("nodes after removal: %+v", v)
	}
	if r := doRetry(t, via, "DELETE", "/_tokend/cluster/nodes/"+dead.id, "", admin); r.Status != 404 {
		t.Fatalf("removing it again: %d %s", r.Status, r.Body)
	}
	writeWorks(t, via)
}

func TestMembership_RemovingTheLeaderHandsOverAndCompletes(t *testing.T) {
	nodes := startCluster(t, 3)
	old := leader(t, nodes)
	r := doRetry(t, old, "DELETE", "/_tokend/cluster/nodes/"+old.id, "", admin)
	if r.Status != 200 {
		t.Fatalf("remove the leader through itself: %d %s", r.Status, r.Body)
	}
	rest := followers(nodes, old)
	next := leader(t, rest)
	if r.Header.Get("X-Tokend-Served-By") != next.id {
		t.Fatalf("served by %q, want the new leader %s", r.Header.Get("X-Tokend-Served-By"), next.id)
	}
	for _, nd := range rest {
		testkit.Eventually(t, 10*time.Second, nd.id+" drops "+old.id, func() error {
			if _, ok := member(t, nd, old.id); ok {
				return errors.New("still listed")
			}
			return nil
		})
	}
	old.stop()
	writeWorks(t, rest[0])
	writeWorks(t, rest[1])
}

func TestMembership_TransferLeaderToANamedNode(t *testing.T) {
	nodes := startCluster(t, 3)
	l := leader(t, nodes)
	fs := followers(nodes, l)
	target, via := fs[0], fs[1]
	r := doRetry(t, via, "POST", "/_tokend/cluster/transfer_leader", fmt.Sprintf(`{"node_id":%q}`, target.id), admin)
	if r.Status != 200 || r.JSON(t)["leader"] != target.id {
		t.Fatalf("transfer to %s via %s: %d %s", target.id, via.id, r.Status, r.Body)
	}
	if !target.raft.IsLeader() {
		testkit.Eventually(t, 5*time.Second, target.id+" leads", func() error {
			if !target.raft.IsLeader() {
				return errors.New("not leader")
			}
			return nil
		})
	}
	r = doRetry(t, via, "POST", "/_tokend/cluster/transfer_leader", `{"node_id":"nobody"}`, admin)
	if r.Status != 404 {
		t.Fatalf("transfer to an unknown node: %d %s", r.Status, r.Body)
	}
	writeWorks(t, l)
}

func TestMembership_RemovedNodeRestartingWithOldDataIsRefusedAndSaysSo(t *testing.T) {
	nodes := startCluster(t, 3)
	l := leader(t, nodes)
	gone := followers(nodes, l)[0]
	gone.stop()
	if r := doRetry(t, l, "DELETE", "/_tokend/cluster/nodes/"+gone.id, "", admin); r.Status != 200 {
		t.Fatalf("remove %s: %d %s", gone.id, r.Status, r.Body)
	}
	gone.peers = urlsExcept(nodes, gone) // its --join list, as on its command line
	gone.start()
	testkit.Eventually(t, 20*time.Second, gone.id+" logs that it was removed", func() error {
		if !gone.logs.HasLine("level=ERROR", "this node was removed from the cluster") {
			return errors.New("no such error in its log yet")
		}
		return nil
	})
	r := do(t, gone, "GET", "/_tokend/readyz", "", nil)
	if r.Status != 503 || !strings.Contains(r.String(), "removed from the cluster") {
		t.Fatalf("readyz on the removed node: %d %s", r.Status, r.Body)
	}
	r = do(t, gone, "POST", "/_security/oauth2/token",
		fmt.Sprintf(`{"grant_type":"password","username":"elastic","password":%q}`, superPassword), nil)
	if r.Status != 503 || !strings.Contains(r.String(), "removed from the cluster") {
		t.Fatalf("write on the removed node: %d %s", r.Status, r.Body)
	}
	// Its campaigns (pre-votes) are refused by the members: it is not in
	// their configuration. It never leads.
	testkit.Eventually(t, 10*time.Second, "members refuse its pre-votes", func() error {
		for _, nd := range followers(nodes, gone) {
			if nd.logs.HasLine("rejecting pre-vote request since node is not in configuration") {
				return nil
			}
		}
		return errors.New("no member logged a refusal")
	})
	if gone.raft.IsLeader() {
		t.Fatal("the removed node leads")
	}
	if _, ok := member(t, l, gone.id); ok {
		t.Fatal("the removed node got back into the configuration")
	}
	writeWorks(t, l)
}

func TestMembership_WithoutQuorumWritesSayHowManyVotersAreReachable(t *testing.T) {
	nodes := startCluster(t, 3)
	survivor := followers(nodes, leader(t, nodes))[0]
	for _, nd := range nodes {
		if nd != survivor {
			nd.stop()
		}
	}
	want := "no leader: quorum lost, 1 of 3 voters reachable"
	testkit.Eventually(t, 20*time.Second, "quorum-lost 503", func() error {
		r := do(t, survivor, "POST", "/_security/oauth2/token",
			fmt.Sprintf(`{"grant_type":"password","username":"elastic","password":%q}`, superPassword), nil)
		if r.Status != 503 || !strings.Contains(r.String(), want) || r.Header.Get("Retry-After") == "" {
			return fmt.Errorf("%d %v %s", r.Status, r.Header, r.Body)
		}
		return nil
	})
}

func TestMembership_RestartAtNewAddressesRejoinsUnderTheSameID(t *testing.T) {
	nodes := startCluster(t, 3)
	access, _ := passwordGrant(t, nodes[0])
	l := leader(t, nodes)
	moved := followers(nodes, l)[0]
	moved.stop()
	moved.raftAddr, moved.httpAddr = testkit.FreeAddr(t), testkit.FreeAddr(t)
	moved.peers = urlsExcept(nodes, moved)
	moved.start()
	for _, nd := range nodes {
		testkit.Eventually(t, 20*time.Second, nd.id+" knows "+moved.id+"'s new addresses", func() error {
			s, ok := member(t, nd, moved.id)
			addr, _ := nd.state.NodeAddr(moved.id)
			if !ok || !s.Voter || s.Address != moved.raftAddr || addr != moved.httpAddr {
				return fmt.Errorf("entry %+v (member %v), http %q", s, ok, addr)
			}
			return nil
		})
	}
	if s := authStatus(t, moved, access); s != 200 {
		t.Fatalf("the moved node answers %d for a token issued before the move", s)
	}
	writeWorks(t, moved)
}
