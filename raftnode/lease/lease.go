// Package lease is the leader's account of the read leases it has granted:
// which members may be answering reads from a state that misses a
// revocation, and until when. It is pure accounting on one node's monotonic
// clock: no Raft, no network, no wall-clock time.
//
// A member asks the leader for a read index to renew its lease. The leader
// records a grant for it (Grant) on receipt, before it computes the index,
// and the grant ends one Length later on the leader's clock. The member
// counts its own lease from the moment it sent the request, and for less
// than Length (the drift allowance is the holder's business), so its lease
// runs out before the leader's record of it does. A revocation committed
// before a grant was recorded is included in the index that grant hands out,
// which the member applies before its lease counts; so a revocation waits
// only for the grants recorded at or before its commit (Holders).
package lease

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Clock reads a monotonic clock: the time elapsed since an origin of its
// own choosing.
type Clock func() time.Duration

// MonotonicClock returns a Clock reading Go's monotonic clock from now on.
func MonotonicClock() Clock {
	origin := time.Now()
	return func() time.Duration { return time.Since(origin) }
}

// Hold is a member that may serve reads from a state missing a revocation,
// and how long it may still do so at the latest.
type Hold struct {
	Member string
	Left   time.Duration
}

// Table records grants for a leader. It is safe for concurrent use.
type Table struct {
	length time.Duration
	// leaderLength is how long a leader's lease on its own reads lasts at
	// most (the holder counts less): the previous leader's window.
	leaderLength time.Duration
	now          Clock

	mu sync.Mutex
	// grants holds, per member, the times of its grants that have not
	// ended, oldest first.
	grants map[string][]time.Duration
	// term is the Raft term in which this node was last seen leading;
	// blanketEnd ends the time after it took over during which every
	// member may still hold a lease granted by the previous leader.
	term       uint64
	blanketEnd time.Duration
	// prev is the leader of the term just before this node's, when known,
	// and prevEnd when the lease it held on its own reads ends at the
	// latest: it led until this term began, so it held no lease from
	// another leader, and its own lasts at most leaderLength after it last
	// confirmed its leadership, which was before this term began.
	prev    string
	prevEnd time.Duration
}

// New returns a Table whose grants last length on clock now, and whose
// leaders hold leases on their own reads of at most leaderLength.
func New(length, leaderLength time.Duration, now Clock) *Table {
	return &Table{length: length, leaderLength: leaderLength, now: now, grants: map[string][]time.Duration{}}
}

// Now reads the Table's clock: the time to pass to Holders for a
// revocation known to be committed.
func (t *Table) Now() time.Duration { return t.now() }

// Lead tells the Table that this node leads in term, and prev, when not
// "", led the term just before it. The first call for a new term starts
// the take-over time: a previous leader's grants are not known here, so
// for one Length every member counts as holding one; except prev, which
// held only its own leader's lease, so counts for leaderLength. A later
// call than the real take-over only makes that time end later; prev may be
// given by a later call of the same term.
func (t *Table) Lead(term uint64, prev string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lead(term)
	if prev != "" && t.prev == "" {
		t.prev, t.prevEnd = prev, t.blanketEnd-t.length+t.leaderLength
	}
}

// lead starts term's take-over time, if new, with t.mu held.
func (t *Table) lead(term uint64) {
	if term != t.term {
		t.term = term
		t.blanketEnd = t.now() + t.length
		t.prev = ""
	}
}

// Grant records that member asked for a read lease now, in term. Call it
// before computing the read index the member will apply.
func (t *Table) Grant(member string, term uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lead(term)
	now := t.now()
	t.grants[member] = append(t.prune(member, now), now)
}

// prune drops member's grants that have ended at now and returns the rest.
func (t *Table) prune(member string, now time.Duration) []time.Duration {
	g := t.grants[member]
	i := 0
	for i < len(g) && g[i]+t.length <= now {
		i++
	}
	g = g[i:]
	if len(g) == 0 {
		delete(t.grants, member)
		return nil
	}
	t.grants[member] = g
	return g
}

// Held reports whether member holds a grant that has not ended, and how
// long the latest one has left.
func (t *Table) Held(member string) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	g := t.prune(member, now)
	if len(g) == 0 {
		return 0, false
	}
	return g[len(g)-1] + t.length - now, true
}

// Holders returns the members other than self that may serve reads missing
// a revocation committed at time at (Now after the commit): each member
// with a grant recorded at or before at that has not ended, and while the
// take-over time lasts, every member in members (the previous leader only
// for leaderLength). Left is the time until
// the latest such lease ends. Members outside members (removed ones) keep
// their grants until they end.
func (t *Table) Holders(at time.Duration, self string, members []string) []Hold {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	left := map[string]time.Duration{}
	for m := range t.grants {
		for _, g := range t.prune(m, now) {
			if g <= at {
				left[m] = g + t.length - now
			}
		}
	}
	for _, m := range members {
		end := t.blanketEnd
		if m == t.prev {
			end = t.prevEnd
		}
		if d := end - now; d > 0 {
			left[m] = max(left[m], d)
		}
	}
	delete(left, self)
	out := make([]Hold, 0, len(left))
	for m, d := range left {
		out = append(out, Hold{Member: m, Left: d})
	}
	slices.SortFunc(out, func(a, b Hold) int { return strings.Compare(a.Member, b.Member) })
	return out
}
