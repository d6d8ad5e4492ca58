package credentials

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// verifyFlights merges concurrent identical password checks: when many
// clients start at once with the same credentials (a fleet restarting
// against a fresh node), every request misses the verify cache, and without
// merging each would queue a bcrypt comparison of its own and most would be
// refused (ErrBusy). The first request runs the comparison; the others wait
// for its result. Checks are keyed by flightKey, a keyed digest of the
// username, stored hash and password, so the map never holds a password.
type verifyFlights struct {
	mu sync.Mutex
	m  map[flightKey]*verifyFlight
	// joined counts the times a check waited for another request's
	// comparison instead of running its own, for tests.
	joined atomic.Int64
}

// flightKey identifies one password check (verifyCache.flightKeyOf).
type flightKey [32]byte

// verifyFlight is one comparison in progress; ok and err are set before
// done is closed.
type verifyFlight struct {
	done chan struct{}
	ok   bool
	err  error
}

func newVerifyFlights() *verifyFlights {
	return &verifyFlights{m: map[flightKey]*verifyFlight{}}
}

// do returns the result of run for key, running it only if no identical
// check is in progress, and otherwise waiting for that check's result or for
// ctx to end. A check that gave up because its own request ended does not
// answer the others: the first of them runs the comparison again.
func (g *verifyFlights) do(ctx context.Context, key flightKey, run func() (bool, error)) (bool, error) {
	for {
		g.mu.Lock()
		f, running := g.m[key]
		if !running {
			f = &verifyFlight{done: make(chan struct{})}
			g.m[key] = f
			g.mu.Unlock()
			g.lead(key, f, run)
			return f.ok, f.err
		}
		g.mu.Unlock()
		g.joined.Add(1)
		select {
		case <-f.done:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		if !errors.Is(f.err, context.Canceled) && !errors.Is(f.err, context.DeadlineExceeded) {
			return f.ok, f.err
		}
	}
}

// lead runs f's comparison and hands its result to every waiter.
func (g *verifyFlights) lead(key flightKey, f *verifyFlight, run func() (bool, error)) {
	defer func() {
		g.mu.Lock()
		delete(g.m, key)
		g.mu.Unlock()
		close(f.done)
	}()
	f.ok, f.err = run()
}
