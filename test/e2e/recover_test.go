package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// TestRecover_LostMajority is the "Lost quorum" runbook of
// docs/operations.md on real processes: two voters of three are gone for
// good, the survivor says why it cannot serve, `tokend recover` rewrites its
// configuration, and once restarted it serves the tokens it held and issues
// new ones.
func TestRecover_LostMajority(t *testing.T) {
	nodes := startCluster(t, 3)
	access, _ := getToken(t, nodes[0], "elastic", superPassword)
	survivor := nodes[2]
	nodes[0].kill()
	nodes[1].kill()
	testkit.Eventually(t, 30*time.Second, "the survivor names the lost quorum", func() error {
		r, err := testkit.TryDo(survivor.URL(), "GET", "/_tokend/readyz", "", nil)
		if err != nil {
			return err
		}
		if r.Status != 503 || !strings.Contains(string(r.Body), "quorum lost, 1 of 3 voters reachable") {
			return fmt.Errorf("readyz %d %s", r.Status, r.Body)
		}
		return nil
	})
	out := mustCLI(t, "nodes", "--addr", survivor.URL())
	if !strings.Contains(out, "node1") || strings.Count(out, " no ") < 2 {
		t.Fatalf("tokend nodes without quorum:\n%s", out)
	}
	if err := survivor.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	members := survivor.id + "=" + survivor.raftAddr
	if code, _, errOut := cli(t, "recover", "--data-dir", survivor.dataDir, "--node-id", survivor.id, "--members", members); code != 2 ||
		!strings.Contains(errOut, "pass --yes") {
		t.Fatalf("recover without --yes: exit %d, %s", code, errOut)
	}
	mustCLI(t, "recover", "--data-dir", survivor.dataDir, "--node-id", survivor.id, "--members", members, "--yes")
	survivor.start()
	waitReady(t, survivor)
	wantAuth(t, []*proc{survivor}, access, 200, "token issued before the loss")
	fresh, _ := getToken(t, survivor, "elastic", superPassword)
	wantAuth(t, []*proc{survivor}, fresh, 200, "token issued after the recovery")
}
