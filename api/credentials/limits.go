package credentials

import "time"

// Failure limits. Each key may fail burst times in a row; one failure of
// budget comes back every `every`, so an idle key is back to its full
// budget after burst*every.
const (
	// UserFailureBurst and UserFailureEvery limit password failures per
	// username: 10, then one every 6 s.
	UserFailureBurst = 10
	UserFailureEvery = 6 * time.Second
	// AddrFailureBurst and AddrFailureEvery limit password failures per
	// client address: 50, then one a second.
	AddrFailureBurst = 50
	AddrFailureEvery = time.Second
	// NodeFailureBurst and NodeFailureEvery limit failed node
	// authentications per remote address: 10, then one every 2 s.
	NodeFailureBurst = 10
	NodeFailureEvery = 2 * time.Second
	// maxLimitedKeys bounds the keys each limiter tracks.
	maxLimitedKeys = 10000
)

// Limit is a failure budget: Burst failures in a row, then one every Every.
type Limit struct {
	Burst int           // failures a key may make in a row
	Every time.Duration // how often one failure of budget comes back
}

// authLimits limits password failures (Basic authentication and the
// password grant) per username and per client address, on each node.
//
// Policy: only failures spend budget. Every bcrypt comparison holds one
// failure of both budgets while it runs (checkBudget), which the check
// spends if the password was wrong and gives back if it was right, so
// comparisons in flight count: however many checks arrive at once, no more
// than the budget of them reach bcrypt. (A check that joins an identical
// one in flight, verifyFlights, runs no comparison and holds nothing.) While
// either the username or the address has no budget left, a password is
// refused (TooManyFailures) before it is checked, so no bcrypt time is spent
// on it. A success resets nothing: an attacker's address does not get its
// budget back by logging in with an account of its own. The legitimate user
// of an attacked username is locked out only while failures keep coming;
// once they stop, the username's budget comes back over time (at most
// UserFailureBurst*UserFailureEvery).
type authLimits struct {
	users, addrs *failureLimiter
	now          func() time.Time
}

func newAuthLimits(users, addrs Limit, now func() time.Time) *authLimits {
	return &authLimits{
		users: newFailureLimiter(users, maxLimitedKeys),
		addrs: newFailureLimiter(addrs, maxLimitedKeys),
		now:   now,
	}
}

// blocked returns TooManyFailures for user from addr if either is out of
// budget, without spending any. An empty addr (a node's own request) has no
// address budget.
func (l *authLimits) blocked(user, addr string) error {
	now := l.now()
	wait := l.users.wait(user, now)
	if addr != "" {
		wait = max(wait, l.addrs.wait(addr, now))
	}
	if wait > 0 {
		return &TooManyFailures{Wait: wait}
	}
	return nil
}

// checkBudget is one password check's claim on its username's and client
// address's budgets: one failure of each held per bcrypt comparison the
// check runs. It is used by one goroutine.
type checkBudget struct {
	l          *authLimits
	user, addr string
	held       int // failures held and not yet settled
}

// budget returns the claim of a check of user's password from addr.
func (l *authLimits) budget(user, addr string) *checkBudget {
	return &checkBudget{l: l, user: user, addr: addr}
}

// reserve holds one failure of both budgets for a comparison about to run,
// or returns TooManyFailures if either has none left (and holds nothing).
// An empty addr (a node's own request) has no address budget.
func (b *checkBudget) reserve() error {
	now := b.l.now()
	wait := b.l.users.hold(b.user, now)
	switch {
	case b.addr == "":
	case wait > 0:
		wait = max(wait, b.l.addrs.wait(b.addr, now))
	default:
		if wait = b.l.addrs.hold(b.addr, now); wait > 0 {
			b.l.users.release(b.user, now, false)
		}
	}
	if wait > 0 {
		return &TooManyFailures{Wait: wait}
	}
	b.held++
	return nil
}

// settle ends every hold of b: spent as failures if the check failed,
// given back if it did not.
func (b *checkBudget) settle(failed bool) {
	now := b.l.now()
	for ; b.held > 0; b.held-- {
		b.l.users.release(b.user, now, failed)
		if b.addr != "" {
			b.l.addrs.release(b.addr, now, failed)
		}
	}
}
