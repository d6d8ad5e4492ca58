package api

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
)

// fakeClock is a settable clock for the failure limits.
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

// withClock gives n a password verifier whose failure limits use a fake
// clock, configured further by mods; call it before any request.
func withClock(n *testNode, mods ...func(*credentials.Config)) *fakeClock {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	n.passwordsWith(func(cfg *credentials.Config) {
		cfg.Clock = c.now
		for _, mod := range mods {
			mod(cfg)
		}
	})
	return c
}

// holdPassword is the password whose comparison holdGate holds.
const holdPassword = "hold-the-slot"

// holdGate gives n a verifier with a single bcrypt slot, configured further
// by mods, and has a Basic request take that slot with a comparison that
// runs until free is called (or the test ends). Every other comparison is
// bcrypt's.
func holdGate(t *testing.T, n *testNode, mods ...func(*credentials.Config)) (v *credentials.Verifier, free func()) {
	t.Helper()
	release := make(chan struct{})
	v = n.passwordsWith(func(c *credentials.Config) {
		c.Slots = 1
		c.Compare = func(hash, password []byte) error {
			if string(password) == holdPassword {
				<-release
				return bcrypt.ErrMismatchedHashAndPassword
			}
			return bcrypt.CompareHashAndPassword(hash, password)
		}
		for _, mod := range mods {
			mod(c)
		}
	})
	holder := make(chan int, 1)
	go func() {
		holder <- rawStatus(context.Background(), n, "GET", "/_security/_authenticate", "", basicAuth("tokman", holdPassword)...)
	}()
	eventually(t, 10*time.Second, "a comparison holds the bcrypt slot", func() bool { return v.Stats().Compares == 1 })
	var once sync.Once
	free = func() {
		once.Do(func() {
			close(release)
			<-holder
		})
	}
	t.Cleanup(free)
	return v, free
}

func grantBody(user, pw string) string {
	return `{"grant_type":"password","username":"` + user + `","password":"` + pw + `"}`
}

func TestAuthLimits_UsernameIsLimitedAfterFailuresUntilTheWindowPasses(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	clock := withClock(n)
	for i := range credentials.UserFailureBurst {
		if i%2 == 0 {
			n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "wrong")...).want(t, 401)
		} else {
			n.do("POST", "/_security/oauth2/token", grantBody("alice", "wrong")).want(t, 401)
		}
	}
	compares := n.srv.gate.passwords.Stats().Compares
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
	if got := n.srv.gate.passwords.Stats().Compares; got != compares {
		t.Fatalf("%d bcrypt comparisons while limited", got-compares)
	}
	e, _ := n.scrapeMetrics("/metrics", basicAuth("monty", "monty-pw")...)
	wantCount(t, e, 2, "tokend_auth_refused_total", "reason", "rate_limited")
	wantCount(t, e, 0, "tokend_auth_refused_total", "reason", "bcrypt_busy")
	// Another user from the same address is not limited yet.
	n.do("GET", "/_security/_authenticate", "", basicAuth("monty", "monty-pw")...).want(t, 200)

	clock.advance(credentials.UserFailureEvery - time.Second)
	r := n.do("POST", "/_security/oauth2/token", grantBody("alice", "alice-pw"))
	r.wantError(t, 429, "es_rejected_execution_exception", "too many failed authentication attempts; try again in 1s")
	clock.advance(time.Second)
	n.passwordGrant("alice", "alice-pw")
	// A success gives no budget back: the next failure is the last one.
	n.do("POST", "/_security/oauth2/token", grantBody("alice", "wrong")).want(t, 401)
	n.do("POST", "/_security/oauth2/token", grantBody("alice", "alice-pw")).want(t, 429)
	clock.advance(credentials.UserFailureBurst * credentials.UserFailureEvery)
	for range credentials.UserFailureBurst - 1 {
		n.do("POST", "/_security/oauth2/token", grantBody("alice", "wrong")).want(t, 401)
	}
	n.passwordGrant("alice", "alice-pw")
}

func TestAuthLimits_AddressIsLimitedAcrossUsernames(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	// A small address budget, so that the test stays under the per-user one.
	clock := withClock(n, func(c *credentials.Config) { c.AddrLimit = credentials.Limit{Burst: 3, Every: time.Minute} })
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
	for range credentials.UserFailureBurst {
		follower.do("POST", "/_security/oauth2/token", grantBody("alice", "wrong")).want(t, 401)
	}
	r := follower.do("POST", "/_security/oauth2/token", grantBody("alice", "alice-pw"))
	r.wantError(t, 429, "es_rejected_execution_exception", "too many failed authentication attempts; try again in 6s")
	if r.header.Get("Retry-After") != "6" {
		t.Fatalf("headers: %v", r.header)
	}
}

func TestCheckPassword_UnknownUserCostsOneComparisonAtTheRealCost(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	v := n.srv.gate.passwords
	before := v.Stats().Compares
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "wrong")...).want(t, 401)
	known := v.Stats().Compares - before
	before = v.Stats().Compares
	n.do("POST", "/_security/oauth2/token", grantBody("nobody", "wrong")).want(t, 401)
	if unknown := v.Stats().Compares - before; unknown != known || known != 1 {
		t.Fatalf("bcrypt comparisons: unknown user %d, wrong password %d", unknown, known)
	}
	if at10 := v.Stats().ComparesAt[credentials.DefaultCost]; at10 != 1 {
		t.Fatalf("the unknown user was compared %d times at the real cost, want 1", at10)
	}
}

func TestBcryptGate_BearerIsServedWhileTheGateIsFull(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	access, _ := n.issueDirect("alice", fsm.NativeRealm, 0)
	_, free := holdGate(t, n)
	n.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200)
	// A Basic request sent while the gate is full is served once it frees.
	done := make(chan int, 1)
	go func() {
		done <- rawStatus(context.Background(), n, "GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...)
	}()
	free()
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
	_, free := holdGate(t, n, func(c *credentials.Config) { c.MaxWait = 20 * time.Millisecond })
	r := n.do("GET", "/_security/_authenticate", "", basicAuth("monty", "monty-pw")...)
	r.wantError(t, 429, "es_rejected_execution_exception", "too many password checks in progress")
	if r.header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	free()
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
