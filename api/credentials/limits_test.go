package credentials

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestFailureLimiter_TrackedKeysAreBounded(t *testing.T) {
	t.Parallel()
	f := newFailureLimiter(Limit{Burst: 2, Every: time.Second}, 3)
	now := time.Unix(0, 0)
	f.take("a", now)
	f.take("a", now)
	f.take("b", now.Add(time.Millisecond))
	f.take("c", now.Add(2*time.Millisecond))
	if f.wait("a", now) != time.Second {
		t.Fatalf("a waits %v", f.wait("a", now))
	}
	f.take("d", now.Add(3*time.Millisecond)) // full: b, whose budget comes back first, is forgotten
	if len(f.keys) != 3 || f.wait("a", now) == 0 {
		t.Fatalf("tracked %v", f.keys)
	}
	if _, ok := f.keys["b"]; ok {
		t.Fatal("b kept")
	}
	later := now.Add(time.Hour)
	f.take("e", later) // every budget is full again: all forgotten
	if len(f.keys) != 1 || f.wait("a", later) != 0 {
		t.Fatalf("tracked %v", f.keys)
	}
}

// limitsAt returns the default limits on a clock that stands still.
func limitsAt(now time.Time) *authLimits {
	return newAuthLimits(Limit{Burst: UserFailureBurst, Every: UserFailureEvery},
		Limit{Burst: AddrFailureBurst, Every: AddrFailureEvery}, func() time.Time { return now })
}

func TestCheckBudget_SuccessRefundsItsReservation(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	l := limitsAt(now)
	var held []*checkBudget
	for range UserFailureBurst {
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
	held[0].settle(false) // it succeeded
	held[0].settle(false) // a second refund gives nothing more back
	if err := l.budget("alice", "192.0.2.1").reserve(); err != nil {
		t.Fatalf("after a refund: %v", err)
	}
	if err := l.budget("alice", "192.0.2.1").reserve(); err == nil {
		t.Fatal("one refund gave back more than one failure")
	}
	for _, b := range held[1:] {
		b.settle(false)
	}
	if l.users.wait("alice", now) != 0 {
		t.Fatal("alice has no budget after the refunds")
	}
	// An address refused leaves the username's budget as it was.
	l.addrs = newFailureLimiter(Limit{Burst: 1, Every: time.Minute}, maxLimitedKeys)
	if err := l.budget("bob", "192.0.2.2").reserve(); err != nil {
		t.Fatal(err)
	}
	if err := l.budget("carol", "192.0.2.2").reserve(); err == nil {
		t.Fatal("the address's budget was not enforced")
	}
	if _, tracked := l.users.keys["carol"]; tracked {
		t.Fatal("carol was charged for a check refused by its address")
	}
}

func TestCheckBudget_SpentFailuresAreChargedAndWaitedOut(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	l := limitsAt(now)
	for range UserFailureBurst {
		b := l.budget("alice", "192.0.2.1")
		if err := b.reserve(); err != nil {
			t.Fatal(err)
		}
		b.settle(true)
	}
	err := l.blocked("alice", "192.0.2.1")
	if tooMany, ok := err.(*TooManyFailures); !ok || tooMany.Wait != UserFailureEvery || tooMany.Seconds() != 6 {
		t.Fatalf("after %d failures: %v", UserFailureBurst, err)
	}
	if l.blocked("bob", "192.0.2.1") != nil {
		t.Fatal("another username from the address is blocked")
	}
	if w := l.users.wait("alice", now.Add(5*time.Second)); w != time.Second {
		t.Fatalf("5 s later alice waits %v, want 1s", w)
	}
	if w := l.users.wait("alice", now.Add(UserFailureEvery)); w != 0 {
		t.Fatalf("one interval later alice waits %v", w)
	}
}

// Holds taken and given back from many goroutines at once restore the
// budget exactly: no more than the burst is ever held, and once every
// check has succeeded the key has its whole budget and is not tracked.
func TestCheckBudget_ConcurrentHoldsAndRefundsRestoreTheWholeBudget(t *testing.T) {
	t.Parallel()
	l := newAuthLimits(Limit{Burst: UserFailureBurst, Every: UserFailureEvery},
		Limit{Burst: AddrFailureBurst, Every: AddrFailureEvery}, time.Now)
	const workers, rounds = 32, 200
	var mu sync.Mutex
	inFlight, most := 0, 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				b := l.budget("alice", "192.0.2.1")
				if b.reserve() != nil {
					continue
				}
				mu.Lock()
				inFlight++
				most = max(most, inFlight)
				mu.Unlock()
				runtime.Gosched() // let the others try while this one holds
				mu.Lock()
				inFlight--
				mu.Unlock()
				b.settle(false)
			}
		})
	}
	wg.Wait()
	if most > UserFailureBurst {
		t.Fatalf("%d checks held the budget at once, the burst is %d", most, UserFailureBurst)
	}
	if len(l.users.keys) != 0 || len(l.addrs.keys) != 0 {
		t.Fatalf("keys still tracked after every check succeeded: %d users, %d addresses", len(l.users.keys), len(l.addrs.keys))
	}
	for range UserFailureBurst {
		if err := l.budget("alice", "192.0.2.1").reserve(); err != nil {
			t.Fatalf("the budget did not come back whole: %v", err)
		}
	}
}

// Why holds are not rate.Reservations (failureLimiter): a reservation
// cancelled once its time has passed, as it has after any comparison,
// gives nothing back.
func TestRateReservation_CancelledAfterItsTimeRestoresNothing(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	lim := rate.NewLimiter(rate.Every(UserFailureEvery), UserFailureBurst)
	r := lim.ReserveN(now, 1)
	later := now.Add(50 * time.Millisecond) // one comparison later
	r.CancelAt(later)
	if got, want := lim.TokensAt(later), float64(UserFailureBurst-1); got >= want+0.5 {
		t.Fatalf("a cancelled reservation gave its token back (%v tokens): failureLimiter could use Reservation.Cancel", got)
	}
}
