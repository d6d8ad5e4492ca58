package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// TestBootstrap_RefusesWhenAPeerAlreadyBelongsToACluster is the disk-loss
// case of scripts/cluster.sh before it moved to --bootstrap-expect: node1
// lost its data dir and was started again with --bootstrap. Named peers
// that already form a cluster make it refuse, with the reason, instead of
// founding a second cluster beside them.
func TestBootstrap_RefusesWhenAPeerAlreadyBelongsToACluster(t *testing.T) {
	nodes := startCluster(t, 2)
	lost := newProc(t, "node1b", "--bootstrap", "--join", nodes[0].URL()+","+nodes[1].URL())
	lost.start()
	testkit.Eventually(t, 30*time.Second, "the node exits", func() error {
		if !lost.exited() {
			return errorString("still running")
		}
		return nil
	})
	if lost.exitErr == nil || !strings.Contains(lost.out.String(), "refusing to bootstrap: "+nodes[0].URL()+" already belongs to a cluster") {
		t.Fatalf("exit %v, log:\n%s", lost.exitErr, lost.out.String())
	}
	if strings.Contains(lost.out.String(), "bootstrapped a new cluster") {
		t.Fatal("a second cluster was founded")
	}
}

// errorString is an error that is its text.
type errorString string

func (e errorString) Error() string { return string(e) }
