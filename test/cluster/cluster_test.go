package cluster

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

var admin = testkit.Basic("elastic", superPassword)

// passwordGrant gets a token pair for elastic on nd.
func passwordGrant(t *testing.T, nd *node) (access, refresh string) {
	t.Helper()
	r := do(t, nd, "POST", "/_security/oauth2/token",
		fmt.Sprintf(`{"grant_type":"password","username":"elastic","password":%q}`, superPassword), nil)
	if r.Status != 200 {
		t.Fatalf("password grant on %s: %d %s", nd.id, r.Status, r.Body)
	}
	m := r.JSON(t)
	return m["access_token"].(string), m["refresh_token"].(string)
}

// authStatus returns the status of _authenticate with access on nd.
func authStatus(t *testing.T, nd *node, access string) int {
	t.Helper()
	return do(t, nd, "GET", "/_security/_authenticate", "", testkit.Bearer(access)).Status
}

func TestCluster_TokenIssuedOnFollowerIsAcceptedAtOnceByEveryNode(t *testing.T) {
	nodes := startCluster(t, 3)
	l := leader(t, nodes)
	for _, f := range followers(nodes, l) {
		access, _ := passwordGrant(t, f)
		// No waiting: read-your-writes holds on every node at once.
		for _, nd := range nodes {
			if s := authStatus(t, nd, access); s != 200 {
				t.Fatalf("token issued on follower %s: authenticate on %s = %d", f.id, nd.id, s)
			}
		}
	}
}

func TestCluster_ConcurrentRefreshesThroughAllNodesYieldOnePair(t *testing.T) {
	nodes := startCluster(t, 3)
	_, refresh := passwordGrant(t, nodes[0])
	const racers = 12
	var wg sync.WaitGroup
	results := make([]string, racers)
	statuses := make([]int, racers)
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := testkit.TryDo(nodes[i%3].URL(), "POST", "/_security/oauth2/token",
				fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh), nil)
			if err != nil {
				return
			}
			statuses[i] = r.Status
			if r.Status == 200 {
				results[i] = r.String()
			}
		}(i)
	}
	wg.Wait()
	pairs := map[string]bool{}
	for i, body := range results {
		if statuses[i] != 200 {
			t.Fatalf("racer %d: status %d", i, statuses[i])
		}
		pairs[pairFrom(t, body)] = true
	}
	if len(pairs) != 1 {
		t.Fatalf("%d racing refreshes of one token produced %d distinct pairs, want 1", racers, len(pairs))
	}
}

// pairFrom returns "access refresh" from a token answer.
func pairFrom(t *testing.T, body string) string {
	t.Helper()
	m := testkit.Response{Body: []byte(body)}.JSON(t)
	return fmt.Sprint(m["access_token"], " ", m["refresh_token"])
}

func TestCluster_InvalidatedTokenIsRefusedByEveryNodeOnceAnswered(t *testing.T) {
	nodes := startCluster(t, 3)
	for i, via := range nodes {
		access, _ := passwordGrant(t, nodes[(i+1)%3])
		r := do(t, via, "DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, access), nil)
		if r.Status != 200 {
			t.Fatalf("invalidate via %s: %d %s", via.id, r.Status, r.Body)
		}
		for _, nd := range nodes {
			if s := authStatus(t, nd, access); s != 401 {
				t.Fatalf("invalidated through %s, %s still answers %d", via.id, nd.id, s)
			}
		}
	}
}

func TestCluster_LeaderLossKeepsTokensAndWritesWorking(t *testing.T) {
	nodes := startCluster(t, 3)
	old := leader(t, nodes)
	access, refresh := passwordGrant(t, old)
	old.stop()

	next := leader(t, nodes)
	for _, nd := range followers(nodes, old) {
		// A follower that has not heard from the new leader yet cannot
		// know, and says so with a 503; it never calls the token invalid.
		testkit.Eventually(t, 10*time.Second, nd.id+" accepts an issued token after leader loss", func() error {
			switch s := authStatus(t, nd, access); s {
			case 200:
				return nil
			case 503:
				return errors.New("503: no leader known yet")
			default:
				t.Fatalf("after leader loss, %s answers %d for an issued token", nd.id, s)
				return nil
			}
		})
	}
	var other *node
	for _, nd := range followers(nodes, old) {
		if nd != next {
			other = nd
		}
	}
	testkit.Eventually(t, 20*time.Second, "refresh after failover", func() error {
		r := do(t, other, "POST", "/_security/oauth2/token",
			fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh), nil)
		if r.Status != 200 {
			return fmt.Errorf("%d %s", r.Status, r.Body)
		}
		return nil
	})
	newAccess, _ := passwordGrant(t, other)
	if s := authStatus(t, next, newAccess); s != 200 {
		t.Fatalf("token issued after failover: %d on the new leader", s)
	}
}

func TestCluster_RestartedNodeCatchesUpFromSnapshot(t *testing.T) {
	nodes := startCluster(t, 3, func(nd *node) { nd.snapshot = 16 })
	l := leader(t, nodes)
	lagging := followers(nodes, l)[0]
	lagging.stop()

	var tokens []string
	for i := 0; i < 60; i++ {
		access, _ := passwordGrant(t, l)
		tokens = append(tokens, access)
	}
	testkit.Eventually(t, 60*time.Second, "leader compacted its log past the lagging node", func() error {
		if st := l.raft.Stats(); st.LastLogIndex == 0 || snapshotsOf(l) == 0 {
			return fmt.Errorf("no snapshot on the leader yet (%+v)", st)
		}
		return nil
	})

	lagging.start()
	testkit.Eventually(t, 60*time.Second, lagging.id+" caught up", func() error {
		if lagging.state.AppliedIndex() < l.state.AppliedIndex() {
			return fmt.Errorf("applied %d < leader %d", lagging.state.AppliedIndex(), l.state.AppliedIndex())
		}
		return nil
	})
	if snapshotsOf(lagging) == 0 {
		t.Fatal("the restarted node caught up without installing a snapshot; the test proves nothing")
	}
	for _, tok := range tokens {
		if s := authStatus(t, lagging, tok); s != 200 {
			t.Fatalf("restarted node answers %d for a token issued while it was down", s)
		}
	}
}

// snapshotsOf counts the Raft snapshots in nd's data dir.
func snapshotsOf(nd *node) int {
	entries, err := listSnapshots(nd.dataDir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if !strings.HasSuffix(e, ".tmp") {
			n++
		}
	}
	return n
}
