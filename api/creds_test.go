package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/peerauth"
)

// hashOfCost is a well-formed bcrypt hash that claims the given cost. A
// comparison against it at cost 31 would run for days.
func hashOfCost(cost int) string {
	return strings.Replace(string(dummyHash), "$10$", fmt.Sprintf("$%02d$", cost), 1)
}

// rawStatus sends a request and returns its status, or 0 if it failed; it
// is safe to call from any goroutine.
func rawStatus(ctx context.Context, n *testNode, method, path, body string, hdr ...string) int {
	req, err := http.NewRequestWithContext(ctx, method, n.ts.URL+path, strings.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func TestPassword_SelfServiceHashIsRefused(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	alice := basicAuth("alice", "alice-pw")
	before := mustUser(t, n, "alice").Hash
	// The attack: a user without roles stores a cost-31 hash of its own,
	// then pins a bcrypt slot with each Basic request.
	for _, path := range []string{"/_security/user/_password", "/_security/user/alice/_password", "/_xpack/security/user/_password"} {
		for _, hash := range []string{hashOfCost(31), string(dummyHash)} {
			n.do("POST", path, fmt.Sprintf(`{"password_hash":%q}`, hash), alice...).wantError(t, 400,
				"action_request_validation_exception", "Validation Failed: 1: "+selfServiceHash+";")
		}
	}
	if string(mustUser(t, n, "alice").Hash) != string(before) {
		t.Fatal("alice's hash changed")
	}
	n.do("GET", "/_security/_authenticate", "", alice...).want(t, 200)
	// A superuser may still set its own or another user's password by hash.
	admin := basicAuth("elastic", "elastic-pw")
	n.do("POST", "/_security/user/alice/_password", fmt.Sprintf(`{"password_hash":%q}`, dummyHashes[11]), admin...).want(t, 200)
	if got := string(mustUser(t, n, "alice").Hash); got != string(dummyHashes[11]) {
		t.Fatalf("alice's hash %s", got)
	}
}

func TestPassword_HashCostOutsideTheRangeIsRefusedForSuperusers(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	admin := basicAuth("elastic", "elastic-pw")
	tooHigh := "Validation Failed: 1: password hashes must use a bcrypt cost of at most [14];"
	for _, cost := range []int{15, 31} {
		body := fmt.Sprintf(`{"password_hash":%q,"roles":[]}`, hashOfCost(cost))
		n.do("PUT", "/_security/user/carol", body, admin...).wantError(t, 400, "action_request_validation_exception", tooHigh)
		n.do("POST", "/_security/user/alice/_password", fmt.Sprintf(`{"password_hash":%q}`, hashOfCost(cost)), admin...).
			wantError(t, 400, "action_request_validation_exception", tooHigh)
	}
	if _, ok := n.srv.state.User("carol"); ok {
		t.Fatal("carol created")
	}
	// Elasticsearch's strongest setting, bcrypt14, is accepted.
	n.do("PUT", "/_security/user/carol", fmt.Sprintf(`{"password_hash":%q,"roles":[]}`, dummyHashes[maxHashCost]), admin...).want(t, 200)
}

func TestPassword_StoredHashAboveTheBoundIsNeverCompared(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	var tooCostly atomic.Int64
	n.srv.verify.gate.bcrypt = func(hash, password []byte) error {
		if cost, _ := bcrypt.Cost(hash); cost > maxHashCost {
			tooCostly.Add(1)
			return bcrypt.ErrMismatchedHashAndPassword // never run it for real
		}
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	// A hash replicated by an older build, which accepted any cost.
	n.propose(&fsm.PutUser{User: fsm.User{Username: "mallory", Hash: []byte(hashOfCost(31)), Enabled: true}})
	n.do("GET", "/_security/_authenticate", "", basicAuth("mallory", "whatever")...).want(t, 401)
	n.do("POST", "/_security/oauth2/token", grantBody("mallory", "whatever")).want(t, 401)
	if got := tooCostly.Load(); got != 0 {
		t.Fatalf("%d comparisons against the cost-31 hash", got)
	}
	if got := n.srv.verify.gate.compares.Load(); got == 0 {
		t.Fatal("no comparison ran: the refusal is faster than a real check")
	}
}

func TestBcryptGate_CancelledCheckLeavesWhileBcryptRuns(t *testing.T) {
	t.Parallel()
	g := newBcryptGate(1)
	started, release := make(chan struct{}), make(chan struct{})
	g.bcrypt = func(hash, password []byte) error {
		close(started)
		<-release
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := g.compare(ctx, dummyHash, "x")
		done <- err
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled check: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled check waited for its comparison")
	}
	// The comparison keeps its slot until it ends, so the CPU bound holds.
	if len(g.slots) != 1 {
		t.Fatalf("%d slots held while bcrypt runs", len(g.slots))
	}
	close(release)
	eventually(t, 10*time.Second, "the slot is freed", func() bool { return len(g.slots) == 0 })
}

func TestBcryptGate_ShutdownRefusesWaitingChecksAtOnce(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	gate := n.srv.verify.gate
	gate.maxWait = time.Hour
	for range cap(gate.slots) {
		gate.slots <- struct{}{}
	}
	t.Cleanup(func() {
		for range cap(gate.slots) {
			<-gate.slots
		}
	})
	waiting := make(chan error, 1)
	go func() {
		_, err := gate.compare(context.Background(), dummyHash, "x")
		waiting <- err
	}()
	n.srv.RefusePasswordChecks()
	select {
	case err := <-waiting:
		if !errors.Is(err, errGateClosed) {
			t.Fatalf("a waiting check at shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting check outlived the shutdown")
	}
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).
		wantError(t, 503, "node_closed_exception", "node is shutting down")
	// No failure was charged for the refused checks.
	if w := n.srv.limits.users.wait("alice", time.Now()); w != 0 {
		t.Fatalf("alice must wait %v", w)
	}
	if _, tracked := n.srv.limits.users.full["alice"]; tracked {
		t.Fatal("alice's budget was spent by a check that never ran")
	}
}

func TestAuthLimits_ConcurrentWrongPasswordsRunAtMostTheBurst(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	clock := withClock(n)
	const clients = 200
	// A gate wide enough for every client, whose comparisons all wait for
	// release: on code that checks the budget before the comparison and
	// charges it after, every client would get in.
	gate := newBcryptGate(clients)
	var entered atomic.Int64
	release := make(chan struct{})
	gate.bcrypt = func(hash, password []byte) error {
		entered.Add(1)
		<-release
		return bcrypt.ErrMismatchedHashAndPassword
	}
	n.srv.verify.gate = gate

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var finished atomic.Int64
	statuses := make([]int, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer finished.Add(1)
			if i%2 == 0 {
				statuses[i] = rawStatus(ctx, n, "GET", "/_security/_authenticate", "", basicAuth("alice", fmt.Sprintf("guess-%d", i))...)
			} else {
				statuses[i] = rawStatus(ctx, n, "POST", "/_security/oauth2/token", grantBody("alice", fmt.Sprintf("guess-%d", i)))
			}
		}()
	}
	eventually(t, 20*time.Second, "every client is refused or comparing", func() bool {
		return entered.Load()+finished.Load() == clients
	})
	close(release)
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if got := gate.compares.Load(); got != userFailureBurst {
		t.Fatalf("%d bcrypt comparisons for %d concurrent guesses, want %d (statuses %v)", got, clients, userFailureBurst, count)
	}
	if count[401] != userFailureBurst || count[429] != clients-userFailureBurst {
		t.Fatalf("statuses %v", count)
	}
	gate.bcrypt = bcrypt.CompareHashAndPassword
	e, _ := n.scrapeMetrics("/metrics", basicAuth("monty", "monty-pw")...)
	wantCount(t, e, clients-userFailureBurst, "tokend_auth_refused_total", "reason", "rate_limited")
	// The budget comes back as documented, and successes spend none of it.
	n.do("POST", "/_security/oauth2/token", grantBody("alice", "alice-pw")).want(t, 429)
	clock.advance(userFailureBurst * userFailureEvery)
	for range 3 {
		n.passwordGrant("alice", "alice-pw")
		n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 200)
	}
	for range userFailureBurst {
		n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "wrong")...).want(t, 401)
	}
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 429)
}

func TestCheckBudget_SuccessRefundsItsReservation(t *testing.T) {
	t.Parallel()
	l := newAuthLimits()
	now := time.Unix(1_700_000_000, 0)
	l.now = func() time.Time { return now }
	var held []*checkBudget
	for range userFailureBurst {
		b := l.budget("alice", "192.0.2.1")
		if err := b.reserve(); err != nil {
			t.Fatal(err)
		}
		held = append(held, b)
	}
	// Ten checks in flight: an eleventh is refused before it runs.
	if err := l.budget("alice", "192.0.2.1").reserve(); err == nil {
		t.Fatal("an eleventh check in flight was let through")
	}
	held[0].refund() // it succeeded
	held[0].refund() // a second refund gives nothing more back
	if err := l.budget("alice", "192.0.2.1").reserve(); err != nil {
		t.Fatalf("after a refund: %v", err)
	}
	if err := l.budget("alice", "192.0.2.1").reserve(); err == nil {
		t.Fatal("one refund gave back more than one failure")
	}
	for _, b := range held[1:] {
		b.refund()
	}
	if l.users.wait("alice", now) != 0 {
		t.Fatal("alice has no budget after the refunds")
	}
	// An address refused leaves the username's budget as it was.
	l.addrs = newFailureLimiter(1, time.Minute, maxLimitedKeys)
	if err := l.budget("bob", "192.0.2.2").reserve(); err != nil {
		t.Fatal(err)
	}
	if err := l.budget("carol", "192.0.2.2").reserve(); err == nil {
		t.Fatal("the address's budget was not enforced")
	}
	if _, tracked := l.users.full["carol"]; tracked {
		t.Fatal("carol was charged for a check refused by its address")
	}
}

func TestCheckPassword_UnknownUserIsCheckedAtTheStoredCost(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	// Every user's hash has cost 11 (a hash of higher cost stored by a
	// superuser, or imported).
	for _, u := range testUsers {
		n.propose(&fsm.SetPassword{Username: u.name, Hash: dummyHashes[11]})
	}
	gate := n.srv.verify.gate
	gate.bcrypt = func(hash, password []byte) error { return bcrypt.ErrMismatchedHashAndPassword }
	n.do("POST", "/_security/oauth2/token", grantBody("alice", "wrong")).want(t, 401)
	for i := range 5 {
		n.do("POST", "/_security/oauth2/token", grantBody(fmt.Sprintf("nobody-%d", i), "wrong")).want(t, 401)
	}
	if got10, got11 := gate.costs[10].Load(), gate.costs[11].Load(); got10 != 0 || got11 != 6 {
		t.Fatalf("comparisons at cost 10: %d, at cost 11: %d; want 0 and 6", got10, got11)
	}
}

func TestDummyCosts_FollowTheStoredCostsInProportion(t *testing.T) {
	t.Parallel()
	state := fsm.New()
	index := uint64(0)
	put := func(name string, hash []byte) {
		index++
		state.Apply(index, &fsm.PutUser{User: fsm.User{Username: name, Hash: hash, Enabled: true}})
	}
	for i := range 30 {
		put(fmt.Sprintf("u%d", i), dummyHashes[12])
	}
	for i := range 10 {
		put(fmt.Sprintf("v%d", i), dummyHashes[10])
	}
	put("old", []byte(hashOfCost(31))) // never verified: not counted
	put("nohash", nil)
	d := newDummyCosts(peerauth.NewCredential([]byte("secret-of-sixteen-bytes")))
	picked := map[int]int{}
	for i := range 1000 {
		name := fmt.Sprintf("ghost-%d", i)
		cost, _ := bcrypt.Cost(d.hash(state, name))
		again, _ := bcrypt.Cost(d.hash(state, name))
		if again != cost {
			t.Fatalf("%s: cost %d, then %d", name, cost, again)
		}
		picked[cost]++
	}
	// 3 in 4 stored hashes have cost 12: about 750 of 1000 names.
	if len(picked) != 2 || picked[12] < 650 || picked[12] > 850 {
		t.Fatalf("costs picked %v, want about 750 at 12 and 250 at 10", picked)
	}
	// Another node with the same secret answers each name at the same cost.
	other := newDummyCosts(peerauth.NewCredential([]byte("secret-of-sixteen-bytes")))
	for i := range 100 {
		name := fmt.Sprintf("ghost-%d", i)
		if string(other.hash(state, name)) != string(d.hash(state, name)) {
			t.Fatalf("%s: nodes disagree", name)
		}
	}
	// With no hash stored, unknown users are checked at the default cost.
	if got := newDummyCosts(nil).hash(fsm.New(), "ghost"); string(got) != string(dummyHash) {
		t.Fatalf("empty state: %s", got)
	}
}

func TestDummyHashes_HaveTheCostTheyAreFiledUnder(t *testing.T) {
	t.Parallel()
	for cost := minHashCost; cost <= maxHashCost; cost++ {
		if got, ok := hashCost(dummyHashes[cost]); !ok || got != cost {
			t.Fatalf("dummy hash for cost %d has cost %d (%v)", cost, got, ok)
		}
	}
}
