package credentials

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/fsm"

	"github.com/tokend/tokend/test/testkit"
)

// eventually polls cond until it holds or the timeout passes
// (testkit.Eventually, for a condition without a reason).
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, timeout, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

// errNotYet is what eventually reports of a condition that never held.
var errNotYet = errors.New("the condition does not hold")

// fakeClock is a settable clock for the failure limits.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// hashOfCost is a well-formed bcrypt hash that claims the given cost. A
// comparison against it at cost 31 would run for days.
func hashOfCost(cost int) string {
	return strings.Replace(string(dummyHash), "$10$", fmt.Sprintf("$%02d$", cost), 1)
}

// testState returns a state holding alice (password "alice-pw", hashed at
// bcrypt's minimum cost so that tests stay fast) and users.
func testState(t *testing.T, users ...fsm.User) *fsm.FSM {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	state := fsm.New()
	users = append([]fsm.User{{Username: "alice", Hash: hash, Enabled: true, Realm: fsm.NativeRealm}}, users...)
	for i, u := range users {
		state.Apply(uint64(i+1), &fsm.PutUser{User: u})
	}
	return state
}

// newTestVerifier returns a Verifier of state, quiet, configured by mod
// (which may be nil).
func newTestVerifier(state *fsm.FSM, mod func(*Config)) *Verifier {
	cfg := Config{State: state, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&cfg)
	}
	return NewVerifier(cfg)
}
