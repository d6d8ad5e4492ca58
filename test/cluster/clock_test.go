package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/test/testkit"
)

// clocks are the nodes' wall clocks (api.Config.Clock): a fixed start time,
// moved on for all nodes at once (all) and for each node on its own (skew).
// They stand still unless a test moves them, so a test says exactly what
// time each node reads.
type clocks struct {
	start time.Time
	all   atomic.Int64 // nanoseconds
	mu    sync.Mutex
	skew  map[string]time.Duration
}

func newClocks() *clocks {
	return &clocks{start: time.Now(), skew: map[string]time.Duration{}}
}

// install gives nd its clock; pass it to startCluster.
func (c *clocks) install(nd *node) {
	id := nd.id
	nd.clock = func() time.Time {
		c.mu.Lock()
		skew := c.skew[id]
		c.mu.Unlock()
		return c.start.Add(time.Duration(c.all.Load()) + skew)
	}
}

// set makes node id's clock read skew ahead of the others (behind if negative).
func (c *clocks) set(id string, skew time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skew[id] = skew
}

// advance moves every clock d on.
func (c *clocks) advance(d time.Duration) { c.all.Add(int64(d)) }

// setUnskewed moves every clock so that an unskewed node reads t.
func (c *clocks) setUnskewed(t time.Time) { c.all.Store(int64(t.Sub(c.start))) }

// moveLeader transfers leadership to to and waits until every node knows.
func moveLeader(t *testing.T, nodes []*node, to *node) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, "leadership moves to "+to.id, func() error {
		if !to.raft.IsLeader() {
			from := leader(t, nodes)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := from.raft.TransferLeadershipTo(ctx, to.id); err != nil {
				return err
			}
			return errors.New("transfer under way")
		}
		for _, nd := range nodes {
			if id, _ := nd.raft.Leader(); id != to.id {
				return fmt.Errorf("%s sees leader %q", nd.id, id)
			}
		}
		return nil
	})
}

// record returns the access token's record on nd, waiting for nd to apply it.
func record(t *testing.T, nd *node, access string) fsm.AccessToken {
	t.Helper()
	var rec fsm.AccessToken
	testkit.Eventually(t, 10*time.Second, nd.id+" has the token", func() error {
		var ok bool
		if rec, ok = nd.state.AccessToken(fsm.DigestOf(access)); !ok {
			return errors.New("not applied yet")
		}
		return nil
	})
	return rec
}

// refreshGrant refreshes refresh on nd and returns the answer's pair.
func refreshGrant(t *testing.T, nd *node, refresh string) (access, next string) {
	t.Helper()
	r := do(t, nd, "POST", "/_security/oauth2/token",
		fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh), nil)
	if r.Status != 200 {
		t.Fatalf("refresh on %s: %d %s", nd.id, r.Status, r.Body)
	}
	m := r.JSON(t)
	return m["access_token"].(string), m["refresh_token"].(string)
}

// watchLogClocks samples every node's log clock (fsm.FSM.LastTime) until
// the returned function is called, which fails the test if any went back.
func watchLogClocks(t *testing.T, nodes []*node) (check func()) {
	stop, done := make(chan struct{}), make(chan struct{})
	var back []string
	go func() {
		defer close(done)
		last := make([]int64, len(nodes))
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			for i, nd := range nodes {
				if now := nd.state.LastTime(); now < last[i] {
					back = append(back, fmt.Sprintf("%s: %d after %d", nd.id, now, last[i]))
				} else {
					last[i] = now
				}
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		t.Helper()
		close(stop)
		<-done
		if len(back) > 0 {
			t.Fatalf("time in the applied log went back: %v", back)
		}
	}
}

// wantCreatedInOrder fails unless, on every node, each token was created no
// earlier than the one before it.
func wantCreatedInOrder(t *testing.T, nodes []*node, tokens ...string) {
	t.Helper()
	for _, nd := range nodes {
		var prev int64
		for i, tok := range tokens {
			created := record(t, nd, tok).Created
			if created < prev {
				t.Fatalf("on %s, token %d was created at %d, %v before token %d", nd.id, i, created,
					time.Duration(prev-created)*time.Millisecond, i-1)
			}
			prev = created
		}
	}
}

// wantAccepted fails unless every node accepts every token.
func wantAccepted(t *testing.T, nodes []*node, tokens ...string) {
	t.Helper()
	for _, nd := range nodes {
		for i, tok := range tokens {
			if s := authStatus(t, nd, tok); s != 200 {
				t.Fatalf("token %d: %s answers %d", i, nd.id, s)
			}
		}
	}
}

func TestCluster_ALeaderTenMinutesAheadThenBackNeverTakesTheLogsTimeBack(t *testing.T) {
	clk := newClocks()
	nodes := startCluster(t, 3, clk.install)
	n1, n3 := nodes[0], nodes[2]
	clk.set(n3.id, 10*time.Minute)
	check := watchLogClocks(t, nodes)

	moveLeader(t, nodes, n1)
	before, _ := passwordGrant(t, n1)
	moveLeader(t, nodes, n3)
	ahead, refresh := passwordGrant(t, n3)
	spentAccess, spentRefresh := refreshGrant(t, n3, refresh)
	moveLeader(t, nodes, n1)

	// The client lost the answer and retries 5 s later, now through the
	// on-time leader: the same pair, and nothing is revoked.
	clk.advance(5 * time.Second)
	if a, r := refreshGrant(t, n1, refresh); a != spentAccess || r != spentRefresh {
		t.Fatal("a retry inside the window after the leader change got a new pair")
	}
	after, _ := passwordGrant(t, n1)

	wantCreatedInOrder(t, nodes, before, ahead, spentAccess, after)
	wantAccepted(t, nodes, before, ahead, spentAccess, after)
	check()
}

func TestCluster_ALeaderClockSteppingBackAnHourKeepsTokensAndPurgesAlike(t *testing.T) {
	clk := newClocks()
	nodes := startCluster(t, 3, clk.install, func(nd *node) { nd.purge = 100 * time.Millisecond })
	n1 := nodes[0]
	moveLeader(t, nodes, n1)
	check := watchLogClocks(t, nodes)

	before, _ := passwordGrant(t, n1)
	clk.set(n1.id, -time.Hour)
	// Purges run every second (housekeeping's pace): wait for two after the
	// step, the only entries a quiet cluster appends.
	from := n1.state.AppliedIndex()
	testkit.Eventually(t, 20*time.Second, "two purges after the step back", func() error {
		if got := n1.state.AppliedIndex(); got < from+2 {
			return fmt.Errorf("applied index %d, want %d", got, from+2)
		}
		return nil
	})
	after, _ := passwordGrant(t, n1)
	wantCreatedInOrder(t, nodes, before, after)
	wantAccepted(t, nodes, before, after)

	// 90 min later both are past expiry and its 5 min retention even by
	// the leader's slow clock: every node purges them, and all end with the
	// same records.
	clk.advance(90 * time.Minute)
	testkit.Eventually(t, 20*time.Second, "the same purge applied everywhere", func() error {
		want := n1.state.Counts()
		for _, nd := range nodes {
			for _, tok := range []string{before, after} {
				if _, ok := nd.state.AccessToken(fsm.DigestOf(tok)); ok {
					return fmt.Errorf("%s still holds an expired token", nd.id)
				}
			}
			if got := nd.state.Counts(); got != want {
				return fmt.Errorf("%s holds %+v, %s %+v", nd.id, got, n1.id, want)
			}
		}
		return nil
	})
	check()
}

func TestCluster_ANodeTenMinutesBehindAcceptsATokenAtMostItsLagAfterExpiry(t *testing.T) {
	const lag = 10 * time.Minute
	clk := newClocks()
	nodes := startCluster(t, 3, clk.install, func(nd *node) { nd.purge = time.Hour }) // no purge entries
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	clk.set(n3.id, -lag)
	moveLeader(t, nodes, n1)

	access, _ := passwordGrant(t, n1)
	expires := time.UnixMilli(record(t, n3, access).Expires)
	clk.setUnskewed(expires.Add(lag - time.Millisecond))
	for nd, want := range map[*node]int{n1: 401, n2: 401, n3: 200} {
		if s := authStatus(t, nd, access); s != want {
			t.Fatalf("%v after expiry, %s answers %d, want %d", lag-time.Millisecond, nd.id, s, want)
		}
	}
	clk.setUnskewed(expires.Add(lag))
	if s := authStatus(t, n3, access); s != 401 {
		t.Fatalf("%v after expiry, the node %v behind answers %d, want 401", lag, lag, s)
	}

	// An entry stamped after a token's expiry ends it on the slow node
	// too, before its own clock gets there.
	second, _ := passwordGrant(t, n1)
	clk.setUnskewed(time.UnixMilli(record(t, n3, second).Expires).Add(time.Minute))
	if s := authStatus(t, n3, second); s != 200 {
		t.Fatalf("1 min after expiry, no entry since: the slow node answers %d, want 200", s)
	}
	passwordGrant(t, n1)
	testkit.Eventually(t, 10*time.Second, "the slow node refuses the expired token", func() error {
		if s := authStatus(t, n3, second); s != 401 {
			return fmt.Errorf("%s answers %d", n3.id, s)
		}
		return nil
	})
}

// TestCluster_ALeaderTenMinutesAheadStampsTheOtherVotersTime is the case a
// forward-skewed new leader used to break: a refresh spent under an
// on-time leader, retried 5 s later through a leader whose clock is 10 min
// ahead, must get the same pair and revoke nothing. The new leader stamps
// the median of the voters' clocks, so the log's time moves by the 5 s the
// client waited, not by the leader's skew.
func TestCluster_ALeaderTenMinutesAheadStampsTheOtherVotersTime(t *testing.T) {
	clk := newClocks()
	nodes := startCluster(t, 3, clk.install)
	n1, n3 := nodes[0], nodes[2]
	clk.set(n3.id, 10*time.Minute)
	check := watchLogClocks(t, nodes)
	testkit.Eventually(t, 20*time.Second, n3.id+" measures its clock against the other voters'", func() error {
		var st struct {
			Offset int64 `json:"clock_offset_ms"`
		}
		r := do(t, n3, "GET", "/_tokend/cluster/status", "", testkit.Basic("elastic", superPassword))
		if err := json.Unmarshal(r.Body, &st); err != nil || st.Offset != (10*time.Minute).Milliseconds() {
			return fmt.Errorf("status %d %s", r.Status, r.Body)
		}
		return nil
	})

	moveLeader(t, nodes, n1)
	_, refresh := passwordGrant(t, n1)
	spentAccess, spentRefresh := refreshGrant(t, n1, refresh)
	moveLeader(t, nodes, n3)
	clk.advance(5 * time.Second)
	if a, r := refreshGrant(t, n3, refresh); a != spentAccess || r != spentRefresh {
		t.Fatal("a retry inside the window, through a leader 10 min ahead, got a new pair")
	}
	wantAccepted(t, nodes, spentAccess)
	fresh, _ := passwordGrant(t, n3)
	created := time.UnixMilli(record(t, n3, fresh).Created)
	if ahead := created.Sub(n1.clock()); ahead > time.Second {
		t.Fatalf("a token issued by the fast leader is stamped %v ahead of the other voters' clocks", ahead)
	}
	wantCreatedInOrder(t, nodes, spentAccess, fresh)
	check()
}
