package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
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
const headerClientAddr = "X-Tokend-Client-Addr"

// authLimits limits password failures (Basic authentication and the password
// grant) per username and per client address, on each node.
//
// Policy: only failures spend budget. While either the username or the
// address has no budget left, a password is refused with 429 and
// Retry-After before it is checked, so no bcrypt time is spent on it. A
// success resets nothing: an attacker's address does not get its budget back
// by logging in with an account of its own. The legitimate user of an
// attacked username is locked out only while failures keep coming; once
// they stop, the username's budget comes back over time (at most
// userFailureBurst*userFailureEvery).
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

// blocked returns the 429 for user from addr if either is out of budget.
// An empty addr (a node's own request) has no address budget.
func (l *authLimits) blocked(user, addr string) error {
	now := l.now()
	wait := l.users.wait(user, now)
	if addr != "" {
		wait = max(wait, l.addrs.wait(addr, now))
	}
	if wait <= 0 {
		return nil
	}
	secs := int(math.Ceil(wait.Seconds()))
	return &esError{status: http.StatusTooManyRequests, typ: "es_rejected_execution_exception",
		reason: fmt.Sprintf("too many failed authentication attempts; try again in %ds", secs),
		retry:  true, retryAfter: secs}
}

// failed spends one failure of user's and addr's budgets.
func (l *authLimits) failed(user, addr string) {
	now := l.now()
	l.users.fail(user, now)
	if addr != "" {
		l.addrs.fail(addr, now)
	}
}

// failureLimiter is a token bucket per key in its compact form (GCRA): each
// key holds the time at which its budget will be full again. Keys whose
// budget is full are not tracked.
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
	full, ok := f.full[key]
	f.mu.Unlock()
	if !ok {
		return 0
	}
	// Spent budget is full-now; one failure is left below burst-1 of it.
	return max(0, full.Sub(now)-time.Duration(f.burst-1)*f.every)
}

// fail spends one failure of key's budget.
func (f *failureLimiter) fail(key string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	full, ok := f.full[key]
	if !ok {
		f.makeRoom(now)
	}
	if full.Before(now) {
		full = now
	}
	full = full.Add(f.every)
	if limit := now.Add(time.Duration(f.burst) * f.every); full.After(limit) {
		full = limit
	}
	f.full[key] = full
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
