package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/fsm"
)

// fakeClock is a settable clock for authLimits.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// withClock makes n's failure limits use a fake clock; call it before any
// request.
func withClock(n *testNode) *fakeClock {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	n.srv.limits.now = c.now
	return c
}

func grantBody(user, pw string) string {
	return `{"grant_type":"password","username":"` + user + `","password":"` + pw + `"}`
}

func TestAuthLimits_UsernameIsLimitedAfterFailuresUntilTheWindowPasses(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	clock := withClock(n)
	for i := range userFailureBurst {
		if i%2 == 0 {
			n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "wrong")...).want(t, 401)
		} else {
			n.do("POST", "/_security/oauth2/token", grantBody("alice", "wrong")).want(t, 401)
		}
	}
	compares := n.srv.verify.gate.compares.Load()
	reason := "too many failed authentication attempts; try again in 6s"
	for _, r := range []resp{
		n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...),
		n.do("POST", "/_security/oauth2/token", grantBody("alice", "alice-pw")),
	} {
		r.wantError(t, 429, "es_rejected_execution_exception", reason)
		if got := r.header.Get("Retry-After"); got != "6" {
			t.Fatalf("Retry-After %q, want 6", got)
		}
	}
	if got := n.srv.verify.gate.compares.Load(); got != compares {
		t.Fatalf("%d bcrypt comparisons while limited", got-compares)
	}
	e, _ := n.scrapeMetrics("/metrics", basicAuth("monty", "monty-pw")...)
	wantCount(t, e, 2, "tokend_auth_refused_total", "reason", "rate_limited")
	wantCount(t, e, 0, "tokend_auth_refused_total", "reason", "bcrypt_busy")
	// Another user from the same address is not limited yet.
	n.do("GET", "/_security/_authenticate", "", basicAuth("monty", "monty-pw")...).want(t, 200)

	clock.advance(userFailureEvery - time.Second)
	r := n.do("POST", "/_security/oauth2/token", grantBody("alice", "alice-pw"))
	r.wantError(t, 429, "es_rejected_execution_exception", "too many failed authentication attempts; try again in 1s")
	clock.advance(time.Second)
	n.passwordGrant("alice", "alice-pw")
	// A success gives no budget back: the next failure is the last one.
	n.do("POST", "/_security/oauth2/token", grantBody("alice", "wrong")).want(t, 401)
	n.do("POST", "/_security/oauth2/token", grantBody("alice", "alice-pw")).want(t, 429)
	clock.advance(userFailureBurst * userFailureEvery)
	for range userFailureBurst - 1 {
		n.do("POST", "/_security/oauth2/token", grantBody("alice", "wrong")).want(t, 401)
	}
	n.passwordGrant("alice", "alice-pw")
}

func TestAuthLimits_AddressIsLimitedAcrossUsernames(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	// A small address budget, so that the test stays under the per-user one.
	n.srv.limits.addrs = newFailureLimiter(3, time.Minute, maxLimitedKeys)
	clock := withClock(n)
	for _, u := range []string{"alice", "monty", "tokman"} {
		n.do("GET", "/_security/_authenticate", "", basicAuth(u, "wrong")...).want(t, 401)
	}
	r := n.do("GET", "/_security/_authenticate", "", basicAuth("elastic", "elastic-pw")...)
	r.wantError(t, 429, "es_rejected_execution_exception", "too many failed authentication attempts; try again in 60s")
	if r.header.Get("Retry-After") != "60" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// Bearer requests carry no password and are never limited.
	access, _ := n.issueDirect("alice", fsm.NativeRealm, 0)
	n.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200)
	clock.advance(time.Minute)
	n.do("GET", "/_security/_authenticate", "", basicAuth("elastic", "elastic-pw")...).want(t, 200)
}

func TestAuthLimits_GrantOnAFollowerIsLimitedWhereThePasswordIsChecked(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	withClock(follower)
	for range userFailureBurst {
		follower.do("POST", "/_security/oauth2/token", grantBody("alice", "wrong")).want(t, 401)
	}
	r := follower.do("POST", "/_security/oauth2/token", grantBody("alice", "alice-pw"))
	r.wantError(t, 429, "es_rejected_execution_exception", "too many failed authentication attempts; try again in 6s")
	if r.header.Get("Retry-After") != "6" {
		t.Fatalf("headers: %v", r.header)
	}
}

func TestFailureLimiter_TrackedKeysAreBounded(t *testing.T) {
	t.Parallel()
	f := newFailureLimiter(2, time.Second, 3)
	now := time.Unix(0, 0)
	f.take("a", now)
	f.take("a", now)
	f.take("b", now.Add(time.Millisecond))
	f.take("c", now.Add(2*time.Millisecond))
	if f.wait("a", now) != time.Second {
		t.Fatalf("a waits %v", f.wait("a", now))
	}
	f.take("d", now.Add(3*time.Millisecond)) // full: b, whose budget comes back first, is forgotten
	if len(f.full) != 3 || f.wait("a", now) == 0 {
		t.Fatalf("tracked %v", f.full)
	}
	if _, ok := f.full["b"]; ok {
		t.Fatal("b kept")
	}
	later := now.Add(time.Hour)
	f.take("e", later) // every budget is full again: all forgotten
	if len(f.full) != 1 || f.wait("a", later) != 0 {
		t.Fatalf("tracked %v", f.full)
	}
}

func TestCheckPassword_UnknownUserCostsOneComparisonAtTheRealCost(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	if cost, err := bcrypt.Cost(dummyHash); err != nil || cost != bcryptCost {
		t.Fatalf("dummy hash cost %d (%v), real hashes use %d", cost, err, bcryptCost)
	}
	gate := n.srv.verify.gate
	before := gate.compares.Load()
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "wrong")...).want(t, 401)
	known := gate.compares.Load() - before
	before = gate.compares.Load()
	n.do("POST", "/_security/oauth2/token", grantBody("nobody", "wrong")).want(t, 401)
	if unknown := gate.compares.Load() - before; unknown != known || known != 1 {
		t.Fatalf("bcrypt comparisons: unknown user %d, wrong password %d", unknown, known)
	}
}

func TestBcryptGate_BearerIsServedWhileTheGateIsFull(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	access, _ := n.issueDirect("alice", fsm.NativeRealm, 0)
	gate := n.srv.verify.gate
	for range cap(gate.slots) {
		gate.slots <- struct{}{}
	}
	n.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := gate.compare(ctx, dummyHash, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a comparison waiting on a full gate: %v", err)
	}
	// A Basic request sent while the gate is full is served once it frees.
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", n.ts.URL+"/_security/_authenticate", nil)
		req.SetBasicAuth("alice", "alice-pw")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	for range cap(gate.slots) {
		<-gate.slots
	}
	select {
	case code := <-done:
		if code != 200 {
			t.Fatalf("Basic after the gate freed: %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Basic request still waiting after the gate freed")
	}
}

func TestBcryptGate_FullGateAnswers429AfterTheLongestWait(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	gate := n.srv.verify.gate
	gate.maxWait = 20 * time.Millisecond // before any request reads it
	for range cap(gate.slots) {
		gate.slots <- struct{}{}
	}
	if _, err := gate.compare(context.Background(), dummyHash, "x"); !errors.Is(err, errBcryptBusy) {
		t.Fatalf("a comparison past the longest wait: %v", err)
	}
	r := n.do("GET", "/_security/_authenticate", "", basicAuth("monty", "monty-pw")...)
	r.wantError(t, 429, "es_rejected_execution_exception", "too many password checks in progress")
	if r.header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	for range cap(gate.slots) {
		<-gate.slots
	}
	e, _ := n.scrapeMetrics("/metrics", basicAuth("monty", "monty-pw")...)
	wantCount(t, e, 1, "tokend_auth_refused_total", "reason", "bcrypt_busy")
}

func TestBodyLimit_OversizedBodyIs413InTheEnvelope(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	big := `{"grant_type":"password","username":"alice","password":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	n.do("POST", "/_security/oauth2/token", big).wantError(t, 413, "content_too_long_exception",
		"request body is larger than 1048576 bytes")
}
