package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tokend/tokend/raftnode/cluster"
)

// Authentication failure limits. Each key may fail burst times in a row; one
// failure of budget comes back every `every`, so an idle key is back to its
// full budget after burst*every. A username may fail 10 times, then once
// every 6 s; a client address 50 times, then once a second.
const (
	userFailureBurst = 10
	userFailureEvery = 6 * time.Second
	addrFailureBurst = 50
	addrFailureEvery = time.Second
	// maxLimitedKeys bounds the keys each limiter tracks.
	maxLimitedKeys = 10000
)

// headerClientAddr carries, on a request a follower forwards to the leader,
// the address of the client that sent it. The leader trusts it only from a
// node (peerOf): under the node's proof, which covers it, or over a cluster
// certificate.
const headerClientAddr = cluster.HeaderClientAddr

// authLimits limits password failures (Basic authentication and the password
// grant) per username and per client address, on each node.
//
// Policy: only failures spend budget. Every bcrypt comparison reserves one
// failure of both budgets before it runs (checkBudget), and the check gives
// it back if it succeeds, so comparisons in flight count: however many
// checks arrive at once, no more than the budget of them reach bcrypt. (A
// check that joins an identical one in flight, verifyFlights, runs no
// comparison and reserves nothing.) While either the username or the address has no budget
// left, a password is refused with 429 and Retry-After before it is
// checked, so no bcrypt time is spent on it. A success resets nothing: an
// attacker's address does not get its budget back by logging in with an
// account of its own. The legitimate user of an attacked username is locked
// out only while failures keep coming; once they stop, the username's
// budget comes back over time (at most userFailureBurst*userFailureEvery).
type authLimits struct {
	users, addrs *failureLimiter
	// now is the clock; tests replace it.
	now func() time.Time
}

func newAuthLimits() *authLimits {
	return &authLimits{
		users: newFailureLimiter(userFailureBurst, userFailureEvery, maxLimitedKeys),
		addrs: newFailureLimiter(addrFailureBurst, addrFailureEvery, maxLimitedKeys),
		now:   time.Now,
	}
}

// blocked returns the 429 for user from addr if either is out of budget,
// without spending any. An empty addr (a node's own request) has no
// address budget.
func (l *authLimits) blocked(user, addr string) error {
	now := l.now()
	wait := l.users.wait(user, now)
	if addr != "" {
		wait = max(wait, l.addrs.wait(addr, now))
	}
	if wait > 0 {
		return tooManyFailures(wait)
	}
	return nil
}

// checkBudget is one password check's claim on its username's and client
// address's budgets: one failure of each reserved per bcrypt comparison the
// check runs. It is used by one goroutine.
type checkBudget struct {
	l          *authLimits
	user, addr string
	held       int // failures reserved and not refunded
}

// budget returns the claim of a check of user's password from addr.
func (l *authLimits) budget(user, addr string) *checkBudget {
	return &checkBudget{l: l, user: user, addr: addr}
}

// reserve spends one failure of both budgets for a comparison about to run,
// or returns the 429 if either has none left (and spends nothing). An
// empty addr (a node's own request) has no address budget.
func (b *checkBudget) reserve() error {
	now := b.l.now()
	wait := b.l.users.take(b.user, now)
	switch {
	case b.addr == "":
	case wait > 0:
		wait = max(wait, b.l.addrs.wait(b.addr, now))
	default:
		if wait = b.l.addrs.take(b.addr, now); wait > 0 {
			b.l.users.give(b.user, now)
		}
	}
	if wait > 0 {
		return tooManyFailures(wait)
	}
	b.held++
	return nil
}

// refund gives back every failure b reserved, for a check that did not fail.
func (b *checkBudget) refund() {
	now := b.l.now()
	for ; b.held > 0; b.held-- {
		b.l.users.give(b.user, now)
		if b.addr != "" {
			b.l.addrs.give(b.addr, now)
		}
	}
}

// tooManyFailures is the 429 for a key that must wait before it may fail
// again.
func tooManyFailures(wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	return &esError{status: http.StatusTooManyRequests, typ: "es_rejected_execution_exception",
		reason: fmt.Sprintf("too many failed authentication attempts; try again in %ds", secs),
		retry:  true, retryAfter: secs}
}

// failureLimiter is a token bucket per key in its compact form (GCRA): each
// key holds the time at which its budget will be full again. Keys whose
// budget is full are not tracked.
//
// It does not use golang.org/x/time/rate, whose Reservation has the same
// reserve-then-Cancel shape: a rate.Limiter per key is a mutex and five
// fields where this keeps one time, and a key whose budget is full again
// could only be dropped by asking its limiter under its own lock, which
// makes bounding the tracked keys (makeRoom) a scan of locks.
type failureLimiter struct {
	burst   int
	every   time.Duration
	maxKeys int

	mu   sync.Mutex
	full map[string]time.Time // key -> when its budget is full again
}

func newFailureLimiter(burst int, every time.Duration, maxKeys int) *failureLimiter {
	return &failureLimiter{burst: burst, every: every, maxKeys: maxKeys, full: map[string]time.Time{}}
}

// wait returns how long key must wait before it may fail again; 0 if it
// has budget left.
func (f *failureLimiter) wait(key string, now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waitLocked(key, now)
}

func (f *failureLimiter) waitLocked(key string, now time.Time) time.Duration {
	full, ok := f.full[key]
	if !ok {
		return 0
	}
	// Spent budget is full-now; one failure is left below burst-1 of it.
	return max(0, full.Sub(now)-time.Duration(f.burst-1)*f.every)
}

// take spends one failure of key's budget if it has one left and returns 0;
// otherwise it spends nothing and returns how long key must wait.
func (f *failureLimiter) take(key string, now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if wait := f.waitLocked(key, now); wait > 0 {
		return wait
	}
	full, ok := f.full[key]
	if !ok {
		f.makeRoom(now)
	}
	if full.Before(now) {
		full = now
	}
	f.full[key] = full.Add(f.every)
	return 0
}

// give returns one failure to key's budget, which take spent.
func (f *failureLimiter) give(key string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	full, ok := f.full[key]
	if !ok {
		return
	}
	if full = full.Add(-f.every); full.After(now) {
		f.full[key] = full
	} else {
		delete(f.full, key)
	}
}

// makeRoom keeps the map under maxKeys before a key is added: it drops keys
// whose budget is full again and, if that is not enough, the key closest to
// it. Under an attack from many keys this forgets the oldest failures first.
func (f *failureLimiter) makeRoom(now time.Time) {
	if len(f.full) < f.maxKeys {
		return
	}
	var oldest string
	var oldestAt time.Time
	for k, full := range f.full {
		switch {
		case !full.After(now):
			delete(f.full, k)
		case oldest == "" || full.Before(oldestAt):
			oldest, oldestAt = k, full
		}
	}
	if len(f.full) >= f.maxKeys {
		delete(f.full, oldest)
	}
}

// clientAddr is the address failures of r are charged to: the TCP peer's
// IP or, on a node's request, the client address that node vouches for;
// "" for a node's request on its own behalf, so that a node's address is
// never charged for the clients it serves.
func (s *Server) clientAddr(r *http.Request) string {
	if p := peerOf(r); p != nil {
		return p.clientAddr
	}
	return remoteHost(r)
}

// retryAfterValue renders seconds for Retry-After, at least 1.
func retryAfterValue(secs int) string { return strconv.Itoa(max(1, secs)) }
