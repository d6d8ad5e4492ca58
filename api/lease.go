package api

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokend/tokend/raftnode/lease"
)

// leaseRenewEvery is how often a node renews its read lease in the
// background, well inside holderLease so that token checks do not wait.
const leaseRenewEvery = time.Second

// holderLease is how long a node's read lease lasts, counted from the
// moment it asked for the read index that renewed it. The leader keeps its
// record of the grant for maxStaleness from the moment it received the
// request; the difference is the allowance for the two monotonic clocks
// running at different rates (5 %, far above any real clock's drift) and
// for scheduling (10 ms), so the holder's lease ends before the leader's
// record of it does.
const holderLease = maxStaleness - maxStaleness/20 - 10*time.Millisecond

// fenceWait bounds how long a token check waits for this node to apply a
// revocation it was told of (readLease.fence) before it answers 503.
const fenceWait = time.Second

// leaseLedger is the leader's account of the read leases it granted
// (raftnode/lease.Table): who may still answer reads that miss a
// revocation, and for how long.
type leaseLedger interface {
	// Now reads the ledger's monotonic clock.
	Now() time.Duration
	// Lead tells the ledger that this node leads in term.
	Lead(term uint64)
	// Grant records that member asked for a read lease now, in term.
	Grant(member string, term uint64)
	// Held reports whether member holds an unexpired grant, and how long
	// the latest one has left.
	Held(member string) (time.Duration, bool)
	// Holders lists the members other than self that may hold a lease
	// missing a revocation committed by time at; members is the
	// configuration.
	Holders(at time.Duration, self string, members []string) []lease.Hold
}

// newLeaseLedger returns the ledger of a node's grants: each lasts
// maxStaleness on the monotonic clock.
func newLeaseLedger() leaseLedger { return lease.New(maxStaleness, lease.MonotonicClock()) }

// readLease is what lets a node answer token checks from its own state.
// Raft's heartbeats say a leader is alive, not that this node's log has
// caught up with it: after a restart, a partition or a pause, heartbeats
// resume before the missed entries arrive; and a leader that was paused or
// cut off still believes it leads until its own lease check runs. So a node
// serves local reads only within holderLease of starting a catch-up that
// completed: on a follower the leader's read index, then applying it; on
// the leader a quorum confirming its leadership. The leader records each
// grant (leaseLedger), and a revocation waits for the holders of grants
// that may miss it (awaitReplicas); a holder confirms by applying the
// revocation or by raising its fence to it, after which it answers no read
// before it has applied it.
type readLease struct {
	// renewed is when the last completed catch-up started, as monotonic
	// nanoseconds since leaseEpoch plus one; 0: none yet. Every token check
	// reads it, so it is an atomic.
	renewed atomic.Int64
	// fence is the highest revocation index a leader told this node of
	// (wait_applied with fence): no read is answered before it is applied.
	fence atomic.Uint64

	flights catchUpFlights
}

// leaseEpoch is the origin of readLease.renewed: a monotonic clock reading.
var leaseEpoch = time.Now()

// valid reports whether a lease renewed at most holderLease ago is held.
func (l *readLease) valid(now time.Time) bool {
	r := l.renewed.Load()
	return r != 0 && now.Sub(leaseEpoch)-time.Duration(r-1) < holderLease
}

// left is how long the lease held at now still lasts; 0 when none is held.
func (l *readLease) left(now time.Time) time.Duration {
	r := l.renewed.Load()
	if r == 0 {
		return 0
	}
	return max(holderLease-(now.Sub(leaseEpoch)-time.Duration(r-1)), 0)
}

// renewedAt records a completed catch-up that started at started.
func (l *readLease) renewedAt(started time.Time) {
	v := int64(started.Sub(leaseEpoch)) + 1
	for {
		cur := l.renewed.Load()
		if v <= cur || l.renewed.CompareAndSwap(cur, v) {
			return
		}
	}
}

// raiseFence records that a revocation at index must be applied here
// before any further read is answered.
func (l *readLease) raiseFence(index uint64) {
	for {
		cur := l.fence.Load()
		if index <= cur || l.fence.CompareAndSwap(cur, index) {
			return
		}
	}
}

// renewLease makes sure this node holds a read lease, catching up with the
// leader if it does not, and has applied every revocation it was fenced
// for.
func (s *Server) renewLease(ctx context.Context) error {
	if !s.lease.valid(time.Now()) {
		if err := s.catchUp(ctx); err != nil {
			return err
		}
	}
	fence := s.lease.fence.Load()
	if fence <= s.state.AppliedIndex() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, fenceWait)
	defer cancel()
	if err := s.node.WaitApplied(ctx, fence); err != nil {
		return unavailable("status_exception",
			fmt.Sprintf("this node has not applied revocation [%d] of the leader yet", fence))
	}
	return nil
}

// keepLease renews this node's read lease every leaseRenewEvery while a
// leader is known, until ctx ends. Failures are left to the next round and to
// checkFresh, which refuses reads once the lease has run out. On the leader
// it also tells the ledger the term, so that a new leader's take-over time
// starts within a round.
func (s *Server) keepLease(ctx context.Context) {
	tick := time.NewTicker(leaseRenewEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if id, _ := s.node.Leader(); id == "" {
			continue
		}
		if s.node.IsLeader() {
			s.grants.Lead(s.node.Stats().Term)
		}
		rctx, cancel := context.WithTimeout(ctx, leaseRenewEvery)
		if err := s.catchUp(rctx); err != nil {
			s.log.Debug("read lease not renewed", "err", err)
		}
		cancel()
	}
}

// catchUpFlights merges concurrent catch-ups: every caller needs one that
// starts after it asked (read-your-writes), so callers that arrive while one
// runs share the next, and one read-index round trip answers them all. A
// catch-up still under way with a leader that has since been replaced (it
// may hang on a cut-off node until the request timeout) does not hold up
// one with the new leader.
type catchUpFlights struct {
	mu sync.Mutex
	// running counts the catch-ups under way per leader they were started
	// with.
	running map[string]int
	next    *catchUpFlight // not started yet; nil when nobody waits
	// joined counts the callers that joined a catch-up another caller had
	// asked for, for tests.
	joined atomic.Int64
}

// catchUpFlight is one catch-up; err is set before done is closed.
type catchUpFlight struct {
	done chan struct{}
	err  error
}

// catchUp returns once the local state has applied the leader's commit index
// as of a moment after the call, so that anything the cluster answered 200
// for before this call is visible here (see catchUpOnce). Concurrent calls
// share a round trip (catchUpFlights).
func (s *Server) catchUp(ctx context.Context) error {
	g := &s.lease.flights
	g.mu.Lock()
	f := g.next
	if f == nil {
		f = &catchUpFlight{done: make(chan struct{})}
		g.next = f
	} else {
		g.joined.Add(1)
	}
	s.startCatchUpLocked()
	g.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return fromNode(fmt.Errorf("api: catching up with the leader: %w", ctx.Err()))
	}
}

// startCatchUpLocked starts the waiting catch-up, if any, unless one with
// the current leader is under way (its end starts the next). The caller
// holds flights.mu.
func (s *Server) startCatchUpLocked() {
	g := &s.lease.flights
	leader, _ := s.node.Leader()
	if g.next == nil || g.running[leader] > 0 {
		return
	}
	if g.running == nil {
		g.running = map[string]int{}
	}
	f := g.next
	g.next = nil
	g.running[leader]++
	go func() {
		f.err = s.catchUpOnce(context.Background())
		close(f.done)
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.running[leader]--; g.running[leader] == 0 {
			delete(g.running, leader)
		}
		s.startCatchUpLocked()
	}()
}
