package credentials

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// defaultMaxWait bounds how long a password check waits for a bcrypt slot
// before it is refused (ErrBusy), so that waiting requests cannot pile up.
const defaultMaxWait = 5 * time.Second

// bcryptGate bounds concurrent bcrypt comparisons to one less than
// GOMAXPROCS (at least one), so that a flood of password checks queues here
// and always leaves a processor for Bearer validation, which never passes
// through it. While that processor exists, each comparison runs on an OS
// thread of its own at a lower scheduling priority (lowerThreadPriority:
// nice 5), so that under CPU contention the kernel runs request handling,
// Raft and the other nodes first, yet still gives the comparison a share.
//
// When the slots take every processor (GOMAXPROCS 1, or more slots
// configured), comparisons keep the normal priority: a thread the kernel
// slows keeps its processor, and with none left the whole process waits
// for it. Measured with two CPU-bound processes beside a GOMAXPROCS=1
// process comparing passwords back to back, a 10 ms timer in it fired a
// median 1.38 s late with SCHED_IDLE, 222 ms late at nice 19 alone, and
// 10 ms late at normal priority: long enough, in the first cases, for the
// node's followers to miss every heartbeat and elect another leader.
//
// A check gives up, whether it still waits for a slot or its comparison
// runs, when its request's context ends or the gate is closed (shutdown),
// and after maxWait without a slot. bcrypt itself cannot be interrupted: a
// comparison the check gave up on keeps its slot until it ends, so the
// gate's bound on CPU holds; the time it can take is bounded by the cost
// (MaxCost, verifiable).
type bcryptGate struct {
	slots   chan struct{}
	maxWait time.Duration
	closed  chan struct{}
	close   sync.Once
	// bcrypt is the comparison (Config.Compare).
	bcrypt func(hash, password []byte) error
	// lower says whether comparisons run at a lower priority: only
	// when the slots leave a processor for everything else.
	lower bool
	// compares counts comparisons run (Stats).
	compares atomic.Int64
	// costs counts comparisons run per bcrypt cost (Stats).
	costs [MaxCost + 1]atomic.Int64
}

func newBcryptGate(size int, maxWait time.Duration, compare func(hash, password []byte) error) *bcryptGate {
	size = max(1, size)
	return &bcryptGate{slots: make(chan struct{}, size), maxWait: maxWait,
		closed: make(chan struct{}), bcrypt: compare, lower: size < runtime.GOMAXPROCS(0)}
}

// DefaultSlots is the number of concurrent bcrypt comparisons a Verifier
// allows unless told otherwise: every usable CPU but one.
func DefaultSlots() int { return max(1, runtime.GOMAXPROCS(0)-1) }

// stop makes every check waiting at the gate, and every later one, give up
// with ErrClosed.
func (g *bcryptGate) stop() { g.close.Do(func() { close(g.closed) }) }

// compare reports whether password matches the bcrypt hash, waiting for a
// slot first. It returns ctx's error if the context ends first, ErrClosed
// once the gate is stopped, or ErrBusy after maxWait without a slot.
func (g *bcryptGate) compare(ctx context.Context, hash []byte, password string) (bool, error) {
	timer := time.NewTimer(g.maxWait)
	defer timer.Stop()
	select {
	case <-g.closed:
		return false, ErrClosed
	default:
	}
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	case <-g.closed:
		return false, ErrClosed
	case <-timer.C:
		return false, ErrBusy
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
		if g.lower {
			runtime.LockOSThread()
			lowerThreadPriority()
		}
		match <- g.bcrypt(hash, []byte(password)) == nil
	}()
	select {
	case ok := <-match:
		return ok, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-g.closed:
		return false, ErrClosed
	}
}
