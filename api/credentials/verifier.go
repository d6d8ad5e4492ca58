package credentials

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/peerauth"
)

// Config configures a Verifier. State is required; the other zero fields
// take the defaults.
type Config struct {
	// State holds the users and their password hashes.
	State *fsm.FSM
	// CatchUp brings State up to the leader's commit index. A check calls it
	// before it calls a user unknown or a password wrong, since the user or
	// the password may be newer than this node's state. Nil: never.
	CatchUp func(context.Context) error
	// Credential is the cluster's node credential: it keys the choice of an
	// unknown user's dummy cost (dummyCosts), so that every node answers a
	// name alike. Nil, or while it is not known: a random key of this
	// process.
	Credential *peerauth.Credential
	// Log receives the warning about a stored hash that cannot be verified
	// (default slog.Default()).
	Log *slog.Logger
	// Slots bounds concurrent bcrypt comparisons (default DefaultSlots()).
	Slots int
	// MaxWait bounds a check's wait for a bcrypt slot (default 5 s).
	MaxWait time.Duration
	// Compare is the bcrypt comparison (default
	// bcrypt.CompareHashAndPassword); tests replace it.
	Compare func(hash, password []byte) error
	// Clock is the failure limits' clock (default time.Now).
	Clock func() time.Time
	// UserLimit and AddrLimit are the failure budgets per username and per
	// client address (default UserFailureBurst and UserFailureEvery,
	// AddrFailureBurst and AddrFailureEvery).
	UserLimit, AddrLimit Limit
}

// Verifier checks usernames and passwords against the state. It is safe for
// concurrent use.
type Verifier struct {
	state   *fsm.FSM
	catchUp func(context.Context) error
	log     *slog.Logger
	gate    *bcryptGate
	cache   *verifyCache
	limits  *authLimits
	dummies *dummyCosts // the hash an unknown user's password is checked against
	// unverifiable holds the users whose stored hash was refused unchecked
	// and logged (warnUnverifiable).
	unverifiable sync.Map
}

// NewVerifier returns a Verifier configured by cfg.
func NewVerifier(cfg Config) *Verifier {
	cfg = cfg.withDefaults()
	gate := newBcryptGate(cfg.Slots, cfg.MaxWait, cfg.Compare)
	return &Verifier{state: cfg.State, catchUp: cfg.CatchUp, log: cfg.Log, gate: gate, cache: newVerifyCache(gate, verifyMaxSize),
		limits: newAuthLimits(cfg.UserLimit, cfg.AddrLimit, cfg.Clock), dummies: newDummyCosts(cfg.Credential)}
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.CatchUp == nil {
		c.CatchUp = func(context.Context) error { return nil }
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Slots == 0 {
		c.Slots = DefaultSlots()
	}
	if c.MaxWait == 0 {
		c.MaxWait = defaultMaxWait
	}
	if c.Compare == nil {
		c.Compare = bcrypt.CompareHashAndPassword
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.UserLimit == (Limit{}) {
		c.UserLimit = Limit{Burst: UserFailureBurst, Every: UserFailureEvery}
	}
	if c.AddrLimit == (Limit{}) {
		c.AddrLimit = Limit{Burst: AddrFailureBurst, Every: AddrFailureEvery}
	}
	return c
}

// Check verifies name's password, sent from the client address addr ("" for
// a node's request on its own behalf, which has no address budget). It
// returns the user, which shares memory with the state
// (fsm.FSM.SharedUser): read only. It fails with
//   - a *Rejection for a wrong password or an unknown or disabled user,
//     after a bcrypt comparison in every case so that timing does not tell
//     them apart;
//   - a *TooManyFailures, without any comparison, if the username or the
//     address is out of failure budget;
//   - ErrBusy if no bcrypt slot freed up in time, ErrClosed once Stop was
//     called, ctx's error, or CatchUp's.
//
// Each comparison holds one failure of both budgets while it runs
// (checkBudget). The holds are spent when the password was wrong, and when
// the request ended while it waited or compared (the comparison may have
// run); they are given back otherwise: on success, and when the check could
// not finish (no bcrypt slot, shutdown, no contact with the leader). A
// password the cache remembers for the user's current hash is accepted
// without a hold, as no comparison runs.
func (v *Verifier) Check(ctx context.Context, name, password, addr string) (fsm.User, error) {
	if err := v.limits.blocked(name, addr); err != nil {
		return fsm.User{}, err
	}
	if u, ok := v.state.SharedUser(name); ok && u.Enabled && len(u.Hash) > 0 && v.cache.remembers(name, u.Hash, password) {
		return u, nil // what match answers for a remembered password
	}
	budget := v.limits.budget(name, addr)
	u, err := v.match(ctx, name, password, budget.reserve)
	budget.settle(errors.Is(err, ErrBadCredentials) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded))
	return u, err
}

// match is Check without the failure limits; reserve is called before each
// bcrypt comparison (verifyCache.check).
func (v *Verifier) match(ctx context.Context, name, password string, reserve func() error) (fsm.User, error) {
	u, found := v.state.SharedUser(name)
	if !found {
		if err := v.catchUp(ctx); err != nil {
			return fsm.User{}, err
		}
		u, found = v.state.SharedUser(name)
	}
	if ok, err := v.matches(ctx, name, u, found, password, reserve); ok || err != nil {
		return u, err
	}
	if !found {
		return fsm.User{}, &Rejection{Reason: UnknownUser}
	}
	if err := v.catchUp(ctx); err != nil {
		return fsm.User{}, err
	}
	fresh, ok := v.state.SharedUser(name)
	if ok && (fresh.Enabled != u.Enabled || subtle.ConstantTimeCompare(fresh.Hash, u.Hash) != 1) {
		if match, err := v.matches(ctx, name, fresh, true, password, reserve); match || err != nil {
			return fresh, err
		}
	}
	return fsm.User{}, &Rejection{Reason: rejectReason(fresh, ok)}
}

// rejectReason says why a password check for user u (found or not) failed.
func rejectReason(u fsm.User, found bool) RejectReason {
	switch {
	case !found:
		return UnknownUser
	case !u.Enabled:
		return DisabledUser
	}
	return WrongPassword
}

// matches reports whether password is u's and u may log in. An unknown
// user, or one whose stored hash cannot be verified (verifiable), is
// compared against a dummy hash of the cost a real user would have
// (dummyCosts), to spend the same time. It fails only if reserve refused or
// the comparison could not run (verifyCache.check).
func (v *Verifier) matches(ctx context.Context, name string, u fsm.User, found bool, password string, reserve func() error) (bool, error) {
	hash := u.Hash
	usable := found && len(hash) > 0 && verifiable(hash)
	if found && len(hash) > 0 && !usable {
		v.warnUnverifiable(name)
	}
	if !usable {
		hash = v.dummies.hash(v.state, name)
	}
	ok, err := v.cache.check(ctx, name, hash, password, reserve)
	return ok && usable && u.Enabled, err
}

// warnUnverifiable logs, once per user and process, that name's stored hash
// is refused unchecked: the user cannot log in until an administrator sets
// a new password.
func (v *Verifier) warnUnverifiable(name string) {
	if _, logged := v.unverifiable.LoadOrStore(name, true); !logged {
		v.log.Warn("stored password hash is not bcrypt or its cost is above max_cost: every password for the user is refused until an administrator sets a new one",
			"user", name, "max_cost", MaxCost)
	}
}

// Stop makes every password check still waiting for a bcrypt slot or for
// its comparison, and every later one, fail with ErrClosed at once. The
// node calls it when it starts to shut down, so that draining the requests
// in flight does not wait for a queue of password checks.
func (v *Verifier) Stop() { v.gate.stop() }

// Stats counts what a Verifier did since it was made.
type Stats struct {
	// Compares is the bcrypt comparisons run.
	Compares int64
	// ComparesAt is the comparisons run per bcrypt cost.
	ComparesAt [MaxCost + 1]int64
	// Joined is the checks that waited for an identical check's comparison
	// instead of running their own (verifyFlights).
	Joined int64
}

// Stats returns the counts so far.
func (v *Verifier) Stats() Stats {
	s := Stats{Compares: v.gate.compares.Load(), Joined: v.cache.flights.joined.Load()}
	for cost := range s.ComparesAt {
		s.ComparesAt[cost] = v.gate.costs[cost].Load()
	}
	return s
}
