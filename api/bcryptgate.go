package api

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// bcryptMaxWait bounds how long a password check waits for a bcrypt slot
// before it is refused with 429, so that waiting requests cannot pile up.
const bcryptMaxWait = 5 * time.Second

// errBcryptBusy refuses a password check that found no bcrypt slot in time.
var errBcryptBusy = &esError{status: http.StatusTooManyRequests, typ: "es_rejected_execution_exception",
	reason: "too many password checks in progress", retry: true}

// errGateClosed refuses a password check once the node is shutting down.
var errGateClosed = unavailable("node_closed_exception", "node is shutting down")

// bcryptGate bounds concurrent bcrypt comparisons to one less than
// GOMAXPROCS (at least one), so that a flood of password checks queues here
// and always leaves a processor for Bearer validation, which never passes
// through it. Each comparison runs on an OS thread of its own at the lowest
// scheduling priority (lowerThreadPriority: SCHED_IDLE), so that under CPU
// contention the kernel runs request handling, Raft and the other nodes
// first.
//
// A check gives up, whether it still waits for a slot or its comparison
// runs, when its request's context ends or the gate is closed (shutdown),
// and after maxWait without a slot. bcrypt itself cannot be interrupted: a
// comparison the check gave up on keeps its slot until it ends, so the
// gate's bound on CPU holds; the time it can take is bounded by the cost
// (maxHashCost, verifiable).
type bcryptGate struct {
	slots   chan struct{}
	maxWait time.Duration
	closed  chan struct{}
	close   sync.Once
	// bcrypt is the comparison; tests replace it before any check.
	bcrypt func(hash, password []byte) error
	// compares counts comparisons run, for tests.
	compares atomic.Int64
	// costs counts comparisons run per bcrypt cost, for tests.
	costs [maxHashCost + 1]atomic.Int64
}

func newBcryptGate(size int) *bcryptGate {
	return &bcryptGate{slots: make(chan struct{}, max(1, size)), maxWait: bcryptMaxWait,
		closed: make(chan struct{}), bcrypt: bcrypt.CompareHashAndPassword}
}

// defaultBcryptSlots is the gate's size: every usable CPU but one.
func defaultBcryptSlots() int { return max(1, runtime.GOMAXPROCS(0)-1) }

// stop makes every check waiting at the gate, and every later one, give up
// with errGateClosed.
func (g *bcryptGate) stop() { g.close.Do(func() { close(g.closed) }) }

// compare reports whether password matches the bcrypt hash, waiting for a
// slot first. It returns ctx's error if the context ends first,
// errGateClosed once the gate is stopped, or errBcryptBusy after maxWait
// without a slot.
func (g *bcryptGate) compare(ctx context.Context, hash []byte, password string) (bool, error) {
	timer := time.NewTimer(g.maxWait)
	defer timer.Stop()
	select {
	case <-g.closed:
		return false, errGateClosed
	default:
	}
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	case <-g.closed:
		return false, errGateClosed
	case <-timer.C:
		return false, errBcryptBusy
	}
	g.compares.Add(1)
	if cost, ok := hashCost(hash); ok && cost < len(g.costs) {
		g.costs[cost].Add(1)
	}
	match := make(chan bool, 1)
	go func() {
		defer func() { <-g.slots }()
		// The thread keeps its lowered priority, so it must not go back to
		// the runtime's pool: a goroutine that exits locked to its thread
		// takes the thread with it.
		runtime.LockOSThread()
		lowerThreadPriority()
		match <- g.bcrypt(hash, []byte(password)) == nil
	}()
	select {
	case ok := <-match:
		return ok, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-g.closed:
		return false, errGateClosed
	}
}

// RefusePasswordChecks makes every password check still waiting for a
// bcrypt slot or for its comparison, and every later one, answer 503 at
// once. The node calls it when it starts to shut down, so that draining the
// requests in flight does not wait for a queue of password checks.
func (s *Server) RefusePasswordChecks() { s.verify.gate.stop() }
