package cluster

import (
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

// A leader's lease on its own reads is short: it lasts leaderHolderLease
// from the start of a read index that confirmed its leadership, renewed
// every leaderLeaseRenewEvery. The ledger of the leader of the next term
// counts it for leaderLease (the holder's share less the same drift
// allowance as holderLease's), so a leader that was cut off or paused costs
// the first revocations of its successor half a second rather than a
// whole lease. It fits well inside Raft's heartbeat timeout (1 s), the
// least time a successor takes to be elected after the last heartbeat a
// majority acknowledged, and equals Raft's leader lease (a leader that has
// not heard from a quorum for that long steps down).
const (
	leaderLease           = 500 * time.Millisecond
	leaderHolderLease     = leaderLease - leaderLease/20 - 10*time.Millisecond
	leaderLeaseRenewEvery = 125 * time.Millisecond
)

// fenceWait bounds how long a token check waits for this node to apply a
// revocation it was told of (readLease.fence) before it refuses it.
const fenceWait = time.Second

// leaseLedger is the leader's account of the read leases it granted
// (raftnode/lease.Table): who may still answer reads that miss a
// revocation, and for how long.
type leaseLedger interface {
	// Now reads the ledger's monotonic clock.
	Now() time.Duration
	// Lead tells the ledger that this node leads in term, and prev (when
	// not "") led the term just before.
	Lead(term uint64, prev string)
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

// newLeaseLedger returns the ledger of a node's grants: each lasts length
// (maxStaleness) on the monotonic clock.
func newLeaseLedger(length time.Duration) leaseLedger {
	return lease.New(length, leaderLease, lease.MonotonicClock())
}

// readLease is what lets a node answer token checks from its own state.
// Raft's heartbeats say a leader is alive, not that this node's log has
// caught up with it: after a restart, a partition or a pause, heartbeats
// resume before the missed entries arrive; and a leader that was paused or
// cut off still believes it leads until its own lease check runs. So a node
// serves local reads only within holderLease of starting a catch-up that
// completed: on a follower the leader's read index, then applying it; on
// the leader a quorum confirming its leadership. The leader records each
// grant (leaseLedger), and a revocation waits for the holders of grants
// that may miss it (Revocations.Await); a holder confirms by applying the
// revocation or by raising its fence to it, after which it answers no read
// before it has applied it.
type readLease struct {
	// held is the lease from the last completed catch-up; nil: none yet.
	// Every token check reads it, so it is an atomic.
	held atomic.Pointer[heldLease]
	// lastLeader is the other node this node last saw leading, and in
	// which term: the previous leader, once this node leads (Reads.keep).
	lastLeader atomic.Pointer[seenLeader]
	// used records that a read relied on the lease since Reads.keep last
	// renewed it: an idle leader does not renew its short lease (each
	// renewal may commit a marker entry, see raftnode's verifyLeader).
	used atomic.Bool
	// fence is the highest revocation index a leader told this node of
	// (wait_applied with fence): no read is answered before it is applied.
	fence atomic.Uint64

	flights catchUpFlights
}

// heldLease is one read lease: it started when the catch-up that won it
// started, and lasts length. leaderTerm is the term in which this node,
// as leader, confirmed its leadership to win it; 0 for a lease a leader
// granted.
type heldLease struct {
	start      time.Duration // since leaseEpoch
	length     time.Duration
	leaderTerm uint64
}

// seenLeader is a leader another node was seen to be, in term.
type seenLeader struct {
	id   string
	term uint64
}

// leaseEpoch is the origin of heldLease.start: a monotonic clock reading.
var leaseEpoch = time.Now()

// valid reports whether a lease that has not run out is held. A leader
// (leaderTerm, its term; 0 on other nodes) needs one it won itself in that
// term: a lease it held before, as a follower, runs on after its
// successor's ledger would count it.
func (l *readLease) valid(now time.Time, leaderTerm uint64) bool {
	h := l.held.Load()
	return h != nil && now.Sub(leaseEpoch)-h.start < h.length && (leaderTerm == 0 || h.leaderTerm == leaderTerm)
}

// age is how long ago the held lease started; a large value without one.
func (l *readLease) age(now time.Time) time.Duration {
	if h := l.held.Load(); h != nil {
		return now.Sub(leaseEpoch) - h.start
	}
	return time.Duration(1<<62 - 1)
}

// left is how long the lease held at now still lasts; 0 when none is held.
func (l *readLease) left(now time.Time) time.Duration {
	h := l.held.Load()
	if h == nil {
		return 0
	}
	return max(h.start+h.length-now.Sub(leaseEpoch), 0)
}

// renewedAt records a completed catch-up that started at started and won a
// lease of length (in leaderTerm as leader, else 0). It replaces the held
// lease if it ends later or is of another kind: an older catch-up that
// completes late never extends a lease, and a leader's short lease
// replaces a follower's.
func (l *readLease) renewedAt(started time.Time, length time.Duration, leaderTerm uint64) {
	next := &heldLease{start: started.Sub(leaseEpoch), length: length, leaderTerm: leaderTerm}
	for {
		cur := l.held.Load()
		if cur != nil && cur.leaderTerm == leaderTerm && cur.start+cur.length >= next.start+next.length {
			return
		}
		if l.held.CompareAndSwap(cur, next) {
			return
		}
	}
}

// sawLeader records that id led in term, as a follower saw it.
func (l *readLease) sawLeader(id string, term uint64) {
	if cur := l.lastLeader.Load(); cur == nil || cur.id != id || cur.term != term {
		l.lastLeader.Store(&seenLeader{id: id, term: term})
	}
}

// previousLeader is the node this node saw leading the term just before
// term, or "" if it did not see that term's leader.
func (l *readLease) previousLeader(term uint64) string {
	if p := l.lastLeader.Load(); p != nil && p.term+1 == term {
		return p.id
	}
	return ""
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
