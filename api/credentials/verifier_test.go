package credentials

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/peerauth"
)

// fillGate takes every slot of v's gate, as comparisons in flight would,
// until the test ends or the returned function frees them.
func fillGate(t *testing.T, g *bcryptGate) (free func()) {
	for range cap(g.slots) {
		g.slots <- struct{}{}
	}
	freed := false
	free = func() {
		if !freed {
			freed = true
			for range cap(g.slots) {
				<-g.slots
			}
		}
	}
	t.Cleanup(free)
	return free
}

func TestVerifyCache_RemembersOnlyTheRightPasswordForTheSameHash(t *testing.T) {
	t.Parallel()
	c := newVerifyCache(newBcryptGate(1, defaultMaxWait, bcrypt.CompareHashAndPassword), verifyMaxSize)
	u, _ := testState(t).User("alice")
	check := func(hash []byte, pw string) bool {
		t.Helper()
		ok, err := c.check(context.Background(), "alice", hash, pw, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !check(u.Hash, "alice-pw") || !check(u.Hash, "alice-pw") {
		t.Fatal("right password refused")
	}
	if check(u.Hash, "alice-pw2") {
		t.Fatal("wrong password accepted after a cached success")
	}
	if check(dummyHash, "alice-pw") {
		t.Fatal("a cached success outlived a hash change")
	}
}

func TestDummyHash_HasTheRealCost(t *testing.T) {
	t.Parallel()
	if cost, err := bcrypt.Cost(dummyHash); err != nil || cost != DefaultCost {
		t.Fatalf("dummy hash cost %d (%v), real hashes use %d", cost, err, DefaultCost)
	}
}
func TestCheck_RejectionsSayWhyForTheMetricsOnly(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("bob-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	v := newTestVerifier(testState(t, fsm.User{Username: "bob", Hash: hash, Realm: fsm.NativeRealm}), nil)
	for _, c := range []struct {
		user, password string
		want           RejectReason
	}{
		{"alice", "wrong", WrongPassword},
		{"bob", "bob-pw", DisabledUser},
	} {
		_, err := v.Check(context.Background(), c.user, c.password, "")
		var rejected *Rejection
		if !errors.As(err, &rejected) || rejected.Reason != c.want || err.Error() != ErrBadCredentials.Error() {
			t.Errorf("%s/%s: %v, want a rejection for reason %d saying only %q", c.user, c.password, err, c.want, ErrBadCredentials)
		}
	}
	if u, err := v.Check(context.Background(), "alice", "alice-pw", ""); err != nil || u.Username != "alice" {
		t.Fatalf("alice's own password: %v %v", u.Username, err)
	}
}

// An unknown user costs a bcrypt comparison at cost 10 (seconds under the
// race detector), so its reason is checked here rather than through Check.
func TestRejectReason_Reasons(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		u     fsm.User
		found bool
		want  RejectReason
	}{
		{fsm.User{}, false, UnknownUser},
		{fsm.User{Username: "a", Enabled: false}, true, DisabledUser},
		{fsm.User{Username: "a", Enabled: true}, true, WrongPassword},
	} {
		if got := rejectReason(c.u, c.found); got != c.want {
			t.Errorf("%+v found=%v: %d, want %d", c.u, c.found, got, c.want)
		}
	}
}

func TestBcryptGate_AComparisonWaitingOnAFullGateEndsWithItsContext(t *testing.T) {
	t.Parallel()
	g := newBcryptGate(1, defaultMaxWait, bcrypt.CompareHashAndPassword)
	fillGate(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := g.compare(ctx, dummyHash, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a comparison waiting on a full gate: %v", err)
	}
}

func TestBcryptGate_FullGateRefusesAfterTheLongestWait(t *testing.T) {
	t.Parallel()
	g := newBcryptGate(1, 20*time.Millisecond, bcrypt.CompareHashAndPassword)
	fillGate(t, g)
	if _, err := g.compare(context.Background(), dummyHash, "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("a comparison past the longest wait: %v", err)
	}
}

func TestBcryptGate_CancelledCheckLeavesWhileBcryptRuns(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	g := newBcryptGate(1, defaultMaxWait, func(hash, password []byte) error {
		close(started)
		<-release
		return nil
	})
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

func TestVerifier_StopRefusesWaitingChecksAtOnceAndChargesNothing(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(testState(t), func(c *Config) { c.MaxWait = time.Hour })
	fillGate(t, v.gate)
	waiting := make(chan error, 2)
	go func() {
		_, err := v.gate.compare(context.Background(), dummyHash, "x")
		waiting <- err
	}()
	go func() {
		_, err := v.Check(context.Background(), "alice", "alice-pw", "192.0.2.1")
		waiting <- err
	}()
	eventually(t, 10*time.Second, "the check holds alice's budget", func() bool {
		v.limits.users.mu.Lock()
		defer v.limits.users.mu.Unlock()
		return v.limits.users.keys["alice"] != nil
	})
	v.Stop()
	for range 2 {
		select {
		case err := <-waiting:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("a waiting check at shutdown: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a waiting check outlived the shutdown")
		}
	}
	if _, err := v.Check(context.Background(), "alice", "alice-pw", "192.0.2.1"); !errors.Is(err, ErrClosed) {
		t.Fatalf("a check after shutdown: %v", err)
	}
	// No failure was charged for the refused checks.
	if w := v.limits.users.wait("alice", time.Now()); w != 0 {
		t.Fatalf("alice must wait %v", w)
	}
	if _, tracked := v.limits.users.keys["alice"]; tracked {
		t.Fatal("alice's budget was spent by a check that never ran")
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
	for cost := MinCost; cost <= MaxCost; cost++ {
		if got, ok := hashCost(dummyHashes[cost]); !ok || got != cost {
			t.Fatalf("dummy hash for cost %d has cost %d (%v)", cost, got, ok)
		}
	}
}
