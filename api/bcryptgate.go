package api

import (
	"context"
	"net/http"
	"runtime"
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

// bcryptGate bounds concurrent bcrypt comparisons to one less than
// GOMAXPROCS (at least one), so that a flood of password checks queues here
// and always leaves a processor for Bearer validation, which never passes
// through it. Each comparison runs on an OS thread of its own at the lowest
// scheduling priority (lowerThreadPriority: SCHED_IDLE), so that under CPU
// contention the kernel runs request handling, Raft and the other nodes
// first. A check waiting for a slot gives up when its request's context ends
// or after maxWait.
type bcryptGate struct {
	slots   chan struct{}
	maxWait time.Duration
	// compares counts comparisons run, for tests.
	compares atomic.Int64
}

func newBcryptGate(size int) *bcryptGate {
	return &bcryptGate{slots: make(chan struct{}, max(1, size)), maxWait: bcryptMaxWait}
}

// defaultBcryptSlots is the gate's size: every usable CPU but one.
func defaultBcryptSlots() int { return max(1, runtime.GOMAXPROCS(0)-1) }

// compare reports whether password matches the bcrypt hash, waiting for a
// slot first; it returns ctx's error if the context ends while it waits, or
// errBcryptBusy after maxWait.
func (g *bcryptGate) compare(ctx context.Context, hash []byte, password string) (bool, error) {
	timer := time.NewTimer(g.maxWait)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	case <-timer.C:
		return false, errBcryptBusy
	}
	defer func() { <-g.slots }()
	g.compares.Add(1)
	match := make(chan bool, 1)
	go func() {
		// The thread keeps its lowered priority, so it must not go back to
		// the runtime's pool: a goroutine that exits locked to its thread
		// takes the thread with it.
		runtime.LockOSThread()
		lowerThreadPriority()
		match <- bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	}()
	return <-match, nil
}
