package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
	"github.com/tokend/tokend/raftnode/peerauth"
	"github.com/tokend/tokend/test/testkit"
)

// A node that crashed after bootstrapping Raft but before the elastic user
// existed must finish the initialisation when it restarts, instead of
// serving a cluster nobody can log in to.
func TestBootstrap_InterruptedBeforeTheElasticUserIsFinishedOnRestart(t *testing.T) {
	p := newProc(t, "node1")
	node, err := raftnode.Open(raftnode.Config{NodeID: p.id, RaftBind: p.raftAddr, DataDir: p.dataDir,
		Credential: peerauth.NewCredential([]byte(e2eNodeSecret))}, fsm.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	if err := node.Shutdown(); err != nil {
		t.Fatal(err)
	}

	p.start()
	waitReady(t, p)
	testkit.Eventually(t, 30*time.Second, "elastic can log in after the restart", func() error {
		r := do(t, p, "GET", "/_security/_authenticate", "", testkit.Basic("elastic", superPassword))
		if r.Status != 200 {
			return fmt.Errorf("authenticate as elastic: %d %s", r.Status, r.Body)
		}
		return nil
	})
	waitLog(t, p, 10*time.Second, "initialisation was interrupted")
}
