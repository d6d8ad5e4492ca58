package credentials

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// failureLimiter keeps a failure budget per key: a token bucket of Limit.Burst
// failures that refills one every Limit.Every, kept by a rate.Limiter, plus
// the failures that checks still running hold (bucket.held), which count as
// spent. Keys whose budget is full with nothing held are not tracked.
//
// Two parts are ours rather than rate's. Holding: a check holds a failure
// before its comparison runs and, once it knows the outcome, spends it on
// the key's limiter or gives it back. rate.Reservation has that shape but
// cannot give back: CancelAt restores nothing once the reservation's time
// has passed, which an immediate reservation's has as soon as the
// comparison took any time, and restores less than a whole token when
// later reservations were made meanwhile
// (TestRateReservation_CancelledAfterItsTimeRestoresNothing). So only
// failures that happened reach the limiter, and holds are a count beside
// it. The map of keys: rate has no keyed limiter, so bounding the keys
// (makeRoom) scans the buckets and asks each limiter how full it is.
type failureLimiter struct {
	burst   int
	limit   rate.Limit
	maxKeys int

	mu   sync.Mutex
	keys map[string]*bucket
}

// bucket is one key's budget.
type bucket struct {
	spent *rate.Limiter // failures charged
	held  int           // failures held by checks in flight
}

func newFailureLimiter(l Limit, maxKeys int) *failureLimiter {
	return &failureLimiter{burst: l.Burst, limit: rate.Every(l.Every), maxKeys: maxKeys, keys: map[string]*bucket{}}
}

// wait returns how long key must wait before it may fail again; 0 if it
// has budget left.
func (f *failureLimiter) wait(key string, now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.keys[key]
	if !ok {
		return 0
	}
	return f.until(b, now, 1)
}

// until returns how long until b has n failures of budget left, counting
// the held ones as spent. rate counts budget in float64 tokens, so the
// time is rounded to the nanosecond: a shortfall of a rounding error is no
// shortfall.
func (f *failureLimiter) until(b *bucket, now time.Time, n int) time.Duration {
	short := float64(n+b.held) - b.spent.TokensAt(now)
	if short <= 0 {
		return 0
	}
	return max(0, time.Duration(math.Round(short/float64(f.limit)*float64(time.Second))))
}

// hold holds one failure of key's budget for a comparison about to run and
// returns 0, if key has a failure left; otherwise it holds nothing and
// returns how long key must wait.
func (f *failureLimiter) hold(key string, now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, wait := f.bucketWithBudget(key, now)
	if wait > 0 {
		return wait
	}
	b.held++
	return 0
}

// release ends a hold on key's budget: spent as a failure, or given back.
// A key dropped while it held failures (makeRoom) was forgotten with them.
func (f *failureLimiter) release(key string, now time.Time, spend bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.keys[key]
	if !ok {
		return
	}
	if b.held > 0 {
		b.held--
	}
	if spend {
		b.spent.ReserveN(now, 1)
	}
	if b.held == 0 && f.until(b, now, f.burst) == 0 {
		delete(f.keys, key)
	}
}

// take spends one failure of key's budget if it has one left and returns 0;
// otherwise it spends nothing and returns how long key must wait.
func (f *failureLimiter) take(key string, now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, wait := f.bucketWithBudget(key, now)
	if wait > 0 {
		return wait
	}
	b.spent.ReserveN(now, 1)
	return 0
}

// bucketWithBudget returns key's bucket, new if key is not tracked, if it
// has a failure left, or else how long key must wait. f.mu is held.
func (f *failureLimiter) bucketWithBudget(key string, now time.Time) (*bucket, time.Duration) {
	b, ok := f.keys[key]
	if ok {
		if wait := f.until(b, now, 1); wait > 0 {
			return nil, wait
		}
		return b, 0
	}
	f.makeRoom(now)
	b = &bucket{spent: rate.NewLimiter(f.limit, f.burst)}
	f.keys[key] = b
	return b, 0
}

// makeRoom keeps the map under maxKeys before a key is added: it drops keys
// whose budget is full again with nothing held and, if that is not enough,
// the key closest to it. Under an attack from many keys this forgets the
// oldest failures first. f.mu is held.
func (f *failureLimiter) makeRoom(now time.Time) {
	if len(f.keys) < f.maxKeys {
		return
	}
	var closest string
	var closestIn time.Duration
	for k, b := range f.keys {
		switch in := f.until(b, now, f.burst); {
		case in == 0:
			delete(f.keys, k)
		case closest == "" || in < closestIn:
			closest, closestIn = k, in
		}
	}
	if len(f.keys) >= f.maxKeys {
		delete(f.keys, closest)
	}
}
