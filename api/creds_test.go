package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
)

// hashOfCost is a well-formed bcrypt hash that claims the given cost. A
// comparison against it at cost 31 would run for days.
func hashOfCost(cost int) string {
	return strings.Replace(storedHashes[10], "$10$", fmt.Sprintf("$%02d$", cost), 1)
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
		for _, hash := range []string{hashOfCost(31), storedHashes[10]} {
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
	n.do("POST", "/_security/user/alice/_password", fmt.Sprintf(`{"password_hash":%q}`, storedHashes[11]), admin...).want(t, 200)
	if got := string(mustUser(t, n, "alice").Hash); got != storedHashes[11] {
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
	n.do("PUT", "/_security/user/carol", fmt.Sprintf(`{"password_hash":%q,"roles":[]}`, storedHashes[credentials.MaxCost]), admin...).want(t, 200)
}

func TestPassword_StoredHashAboveTheBoundIsNeverCompared(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	var tooCostly atomic.Int64
	v := n.passwordsWith(func(c *credentials.Config) {
		c.Compare = func(hash, password []byte) error {
			if cost, _ := bcrypt.Cost(hash); cost > credentials.MaxCost {
				tooCostly.Add(1)
				return bcrypt.ErrMismatchedHashAndPassword // never run it for real
			}
			return bcrypt.CompareHashAndPassword(hash, password)
		}
	})
	// A hash replicated by an older build, which accepted any cost.
	n.propose(&fsm.PutUser{User: fsm.User{Username: "mallory", Hash: []byte(hashOfCost(31)), Enabled: true}})
	n.do("GET", "/_security/_authenticate", "", basicAuth("mallory", "whatever")...).want(t, 401)
	n.do("POST", "/_security/oauth2/token", grantBody("mallory", "whatever")).want(t, 401)
	if got := tooCostly.Load(); got != 0 {
		t.Fatalf("%d comparisons against the cost-31 hash", got)
	}
	if got := v.Stats().Compares; got == 0 {
		t.Fatal("no comparison ran: the refusal is faster than a real check")
	}
}

func TestBcryptGate_ShutdownRefusesWaitingChecksAtOnce(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	holdGate(t, n, func(c *credentials.Config) { c.MaxWait = time.Hour })
	waiting := make(chan int, 1)
	go func() {
		waiting <- rawStatus(context.Background(), n, "GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...)
	}()
	n.srv.RefusePasswordChecks()
	select {
	case code := <-waiting:
		if code != http.StatusServiceUnavailable {
			t.Fatalf("a waiting check at shutdown: %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting check outlived the shutdown")
	}
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).
		wantError(t, 503, "node_closed_exception", "node is shutting down")
}

func TestAuthLimits_ConcurrentWrongPasswordsRunAtMostTheBurst(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	const clients = 200
	// A gate wide enough for every client, whose comparisons all wait for
	// release: on code that checks the budget before the comparison and
	// charges it after, every client would get in. Once released,
	// comparisons are bcrypt's again.
	var entered atomic.Int64
	release := make(chan struct{})
	clock := withClock(n, func(c *credentials.Config) {
		c.Slots = clients
		c.Compare = func(hash, password []byte) error {
			select {
			case <-release:
				return bcrypt.CompareHashAndPassword(hash, password)
			default:
			}
			entered.Add(1)
			<-release
			return bcrypt.ErrMismatchedHashAndPassword
		}
	})

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
	if got := n.srv.gate.passwords.Stats().Compares; got != credentials.UserFailureBurst {
		t.Fatalf("%d bcrypt comparisons for %d concurrent guesses, want %d (statuses %v)", got, clients, credentials.UserFailureBurst, count)
	}
	if count[401] != credentials.UserFailureBurst || count[429] != clients-credentials.UserFailureBurst {
		t.Fatalf("statuses %v", count)
	}
	e, _ := n.scrapeMetrics("/metrics", basicAuth("monty", "monty-pw")...)
	wantCount(t, e, clients-credentials.UserFailureBurst, "tokend_auth_refused_total", "reason", "rate_limited")
	// The budget comes back as documented, and successes spend none of it.
	n.do("POST", "/_security/oauth2/token", grantBody("alice", "alice-pw")).want(t, 429)
	clock.advance(credentials.UserFailureBurst * credentials.UserFailureEvery)
	for range 3 {
		n.passwordGrant("alice", "alice-pw")
		n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 200)
	}
	for range credentials.UserFailureBurst {
		n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "wrong")...).want(t, 401)
	}
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 429)
}

func TestCheckPassword_UnknownUserIsCheckedAtTheStoredCost(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	// Every user's hash has cost 11 (a hash of higher cost stored by a
	// superuser, or imported).
	for _, u := range testUsers {
		n.propose(&fsm.SetPassword{Username: u.name, Hash: []byte(storedHashes[11])})
	}
	v := n.passwordsWith(func(c *credentials.Config) {
		c.Compare = func(hash, password []byte) error { return bcrypt.ErrMismatchedHashAndPassword }
	})
	n.do("POST", "/_security/oauth2/token", grantBody("alice", "wrong")).want(t, 401)
	for i := range 5 {
		n.do("POST", "/_security/oauth2/token", grantBody(fmt.Sprintf("nobody-%d", i), "wrong")).want(t, 401)
	}
	if got10, got11 := v.Stats().ComparesAt[10], v.Stats().ComparesAt[11]; got10 != 0 || got11 != 6 {
		t.Fatalf("comparisons at cost 10: %d, at cost 11: %d; want 0 and 6", got10, got11)
	}
}
