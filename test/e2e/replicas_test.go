package e2e

import (
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// Bounds of the replica scenarios. leaseBound is one read lease (the
// server's maxStaleness, 5 s) plus scheduling slack on a shared machine;
// fastWrite is what a write that waits for no lease takes at most here.
const (
	leaseBound = 7 * time.Second
	fastWrite  = 2 * time.Second
)

// startReplica starts a read replica that joins through join.
func startReplica(t *testing.T, id string, join *proc) *proc {
	t.Helper()
	r := newProc(t, id, "--join", join.URL(), "--replica")
	r.start()
	waitReady(t, r)
	return r
}

// waitReplica polls p's view until id is listed as a reachable replica.
func waitReplica(t *testing.T, p *proc, id string) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, id+" listed as a replica by "+p.id, func() error {
		r, err := testkit.TryDo(p.URL(), "GET", "/_tokend/cluster/nodes", "", admin)
		if err != nil {
			return err
		}
		var v struct {
			Nodes []struct {
				ID        string `json:"id"`
				Role      string `json:"role"`
				Voter     bool   `json:"voter"`
				Reachable bool   `json:"reachable"`
			} `json:"nodes"`
		}
		if err := json.Unmarshal(r.Body, &v); err != nil {
			return err
		}
		for _, n := range v.Nodes {
			if n.ID == id && n.Role == "replica" && !n.Voter && n.Reachable {
				return nil
			}
		}
		return fmt.Errorf("not yet: %s", r.Body)
	})
}

// grantOn issues a password grant for elastic on p and returns the access
// token.
func grantOn(t *testing.T, p *proc) string {
	t.Helper()
	r := doRetry(t, p, "POST", "/_security/oauth2/token",
		fmt.Sprintf(`{"grant_type":"password","username":"elastic","password":%q}`, superPassword), nil)
	if r.Status != 200 {
		t.Fatalf("grant on %s: %d %s", p.id, r.Status, r.Body)
	}
	return r.JSON(t)["access_token"].(string)
}

// checkOn answers the status of a token check on p.
func checkOn(t *testing.T, p *proc, token string) int {
	t.Helper()
	return do(t, p, "GET", "/_security/_authenticate", "", testkit.Bearer(token)).Status
}

// timedInvalidate invalidates token through p and returns how long the
// answer took.
func timedInvalidate(t *testing.T, p *proc, token string) time.Duration {
	t.Helper()
	start := time.Now()
	r := do(t, p, "DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, token), nil)
	if r.Status != 200 {
		t.Fatalf("invalidate on %s: %d %s", p.id, r.Status, r.Body)
	}
	return time.Since(start)
}

// leaderProc returns the process that leads, as p sees it.
func leaderProc(t *testing.T, p *proc, nodes []*proc) *proc {
	t.Helper()
	var leader *proc
	testkit.Eventually(t, 30*time.Second, "a leader", func() error {
		m, err := members(p)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if m[n.id].Leader {
				leader = n
				return nil
			}
		}
		return fmt.Errorf("no leader among %v", m)
	})
	return leader
}

func TestReplicas_ServeReadsAtOnceAndHoldRevocations(t *testing.T) {
	voters := startCluster(t, 3)
	r1 := startReplica(t, "replica1", voters[0])
	r2 := startReplica(t, "replica2", voters[1])
	for _, id := range []string{"replica1", "replica2"} {
		waitReplica(t, voters[0], id)
	}
	all := append(append([]*proc{}, voters...), r1, r2)

	// A token issued on any node, replicas included, is accepted on every
	// replica at once.
	for _, p := range all {
		tok := grantOn(t, p)
		for _, r := range []*proc{r1, r2} {
			if st := checkOn(t, r, tok); st != 200 {
				t.Fatalf("a token issued on %s: %d on %s right after", p.id, st, r.id)
			}
		}
		// A revocation, wherever it is sent, holds on the replicas at once.
		timedInvalidate(t, all[len(all)-1-indexOf(all, p)], tok)
		for _, r := range []*proc{r1, r2} {
			if st := checkOn(t, r, tok); st != 401 {
				t.Fatalf("a token invalidated (issued on %s): %d on %s right after", p.id, st, r.id)
			}
		}
	}

	// Health counts the replicas as nodes, not as data nodes.
	h := do(t, voters[0], "GET", "/_cluster/health", "", admin).JSON(t)
	if h["number_of_nodes"] != float64(5) || h["number_of_data_nodes"] != float64(3) || h["status"] != "green" {
		t.Fatalf("health with two replicas: %v", h)
	}
	// Sniffing clients see the replicas as nodes without the master role.
	info := do(t, voters[0], "GET", "/_nodes/http", "", admin).JSON(t)["nodes"].(map[string]any)
	for _, id := range []string{"replica1", "replica2"} {
		n, ok := info[id].(map[string]any)
		if !ok || fmt.Sprint(n["roles"]) != "[data ingest]" {
			t.Fatalf("_nodes/http entry of %s: %v", id, info[id])
		}
	}
}

func TestReplicas_APausedOrKilledReplicaCostsWritesAtMostOneLease(t *testing.T) {
	voters := startCluster(t, 3)
	r1 := startReplica(t, "replica1", voters[0])
	r2 := startReplica(t, "replica2", voters[0])
	waitReplica(t, voters[0], "replica1")
	waitReplica(t, voters[0], "replica2")
	leader := leaderProc(t, voters[0], voters)
	victims := []string{grantOn(t, leader), grantOn(t, leader), grantOn(t, leader)}
	for _, tok := range victims {
		if st := checkOn(t, r2, tok); st != 200 {
			t.Fatalf("replica2 refuses a fresh token: %d", st)
		}
	}

	// Paused: writes that revoke nothing do not wait for it; the first
	// revocation waits at most for the lease it holds, later ones not at all.
	if err := r2.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	grantOn(t, leader)
	if d := time.Since(start); d > fastWrite {
		t.Fatalf("a grant with a paused replica took %v", d)
	}
	if d := timedInvalidate(t, leader, victims[0]); d > leaseBound {
		t.Fatalf("the first revocation with a paused replica took %v, more than one lease", d)
	}
	if d := timedInvalidate(t, voters[indexOf(voters, leader)%2+1], victims[1]); d > fastWrite {
		t.Fatalf("a later revocation waited for the paused replica: %v", d)
	}
	if err := r2.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// Back, it never accepts what was revoked while it slept.
	for range 20 {
		for _, tok := range victims[:2] {
			if st := checkOn(t, r2, tok); st == 200 {
				t.Fatal("the resumed replica accepted a token revoked while it was paused")
			}
		}
	}

	// Killed: the same bounds.
	r1.kill()
	start = time.Now()
	grantOn(t, leader)
	if d := time.Since(start); d > fastWrite {
		t.Fatalf("a grant with a dead replica took %v", d)
	}
	if d := timedInvalidate(t, leader, victims[2]); d > leaseBound {
		t.Fatalf("a revocation with a dead replica took %v, more than one lease", d)
	}
	// Health stays out of red: quorum never counted the replicas.
	if h := do(t, leader, "GET", "/_cluster/health", "", admin).JSON(t); h["status"] == "red" || h["number_of_data_nodes"] != float64(3) {
		t.Fatalf("health with a dead replica: %v", h)
	}

	// An operator removes the dead replica without touching quorum.
	if r := do(t, leader, "DELETE", "/_tokend/cluster/nodes/replica1", "", admin); r.Status != 200 {
		t.Fatalf("removing the dead replica: %d %s", r.Status, r.Body)
	}
	testkit.Eventually(t, 30*time.Second, "a clean cluster after the removal", func() error {
		h := do(t, leader, "GET", "/_cluster/health", "", admin).JSON(t)
		if h["status"] != "green" || h["number_of_nodes"] != float64(4) {
			return fmt.Errorf("health: %v", h)
		}
		return nil
	})
}

func TestReplicas_NeverPromotedAcrossLeaderChangeAndRestart(t *testing.T) {
	voters := startCluster(t, 3)
	r := startReplica(t, "replica1", voters[0])
	waitReplica(t, voters[0], "replica1")
	leader := leaderProc(t, voters[0], voters)
	if res := doRetry(t, leader, "POST", "/_tokend/cluster/transfer_leader", "", admin); res.Status != 200 {
		t.Fatalf("transfer: %d %s", res.Status, res.Body)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("stopping the replica: %v", err)
	}
	r.start()
	waitReady(t, r)
	// The new leader's promoter runs every second: over several rounds,
	// with the replica caught up, it must leave it a non-voter.
	for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline); {
		m, err := members(voters[0])
		if err == nil && m["replica1"].Voter {
			t.Fatal("the replica was promoted to voter")
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitReplica(t, voters[0], "replica1")
}

// indexOf returns the position of p in ps, -1 if absent.
func indexOf(ps []*proc, p *proc) int {
	for i, q := range ps {
		if q == p {
			return i
		}
	}
	return -1
}
