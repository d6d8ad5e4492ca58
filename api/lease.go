package api

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// leaseRenewEvery is how often a follower renews its read lease in the
// background, well inside maxStaleness so that token checks do not wait.
const leaseRenewEvery = time.Second

// readLease is what lets a node answer token checks from its own state.
// Raft's heartbeats say a leader is alive, not that this node's log has
// caught up with it: after a restart, a partition or a pause, heartbeats
// resume before the missed entries arrive; and a leader that was paused or
// cut off still believes it leads until its own lease check runs. So a node
// serves local reads only within maxStaleness of starting a catch-up that
// completed: on a follower the leader's read index, then applying it; on
// the leader a quorum confirming its leadership. A revocation waits at most
// maxStaleness for a member's confirmation (awaitReplicas): a lease that
// predates the revocation has expired by then, and any later catch-up
// includes it (a deposed leader cannot complete one).
//
// The leader also remembers when it removed members: a removed node is no
// longer asked to confirm, but may hold a lease granted before its removal,
// so revocations wait until such leases have run out.
type readLease struct {
	renewMu sync.Mutex // one catch-up at a time renews the lease

	// renewed is when the last completed catch-up started, as monotonic
	// nanoseconds since leaseEpoch plus one; 0: none yet. Every token check
	// reads it, so it is an atomic rather than behind mu.
	renewed atomic.Int64

	mu      sync.Mutex
	removed map[string]time.Time // leader: member ID -> when it was removed
}

// leaseEpoch is the origin of readLease.renewed: a monotonic clock reading.
var leaseEpoch = time.Now()

// valid reports whether a lease renewed at most maxStaleness ago is held.
func (l *readLease) valid(now time.Time) bool {
	r := l.renewed.Load()
	return r != 0 && now.Sub(leaseEpoch)-time.Duration(r-1) < maxStaleness
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

// memberRemoving records that the leader is removing member id: from the
// moment the configuration without it is appended, revocations no longer
// ask it to confirm, so until the removal is done they wait as long as
// they would for a member that does not answer.
func (l *readLease) memberRemoving(id string) { l.mark(id, time.Time{}) }

// memberRemoved records that the leader finished removing member id at t
// (or gave up): the member cannot have renewed a lease after that.
func (l *readLease) memberRemoved(id string, t time.Time) { l.mark(id, t) }

// mark sets id's removal time (zero: in progress) and forgets removals
// whose leases have run out.
func (l *readLease) mark(id string, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.removed == nil {
		l.removed = map[string]time.Time{}
	}
	now := time.Now()
	for old, at := range l.removed {
		if !at.IsZero() && now.Sub(at) >= maxStaleness {
			delete(l.removed, old)
		}
	}
	l.removed[id] = t
}

// removedLeasesEnd is when the last lease a member removed (or being
// removed) may hold runs out; zero if there is none left at now. A removal
// in progress counts as completing now.
func (l *readLease) removedLeasesEnd(now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var end time.Time
	for _, at := range l.removed {
		if at.IsZero() {
			at = now
		}
		if until := at.Add(maxStaleness); until.After(now) && until.After(end) {
			end = until
		}
	}
	return end
}

// renewLease makes sure this follower holds a read lease, catching up with
// the leader if it does not. Concurrent callers share one catch-up.
func (s *Server) renewLease(ctx context.Context) error {
	if s.lease.valid(time.Now()) {
		return nil
	}
	s.lease.renewMu.Lock()
	defer s.lease.renewMu.Unlock()
	if s.lease.valid(time.Now()) {
		return nil // renewed by the caller that held the lock
	}
	return s.catchUp(ctx)
}

// keepLease renews this node's read lease every leaseRenewEvery while a
// leader is known, until ctx ends. Failures are left to the next round and to
// checkFresh, which refuses reads once the lease has run out.
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
		rctx, cancel := context.WithTimeout(ctx, leaseRenewEvery)
		s.lease.renewMu.Lock()
		if err := s.catchUp(rctx); err != nil {
			s.log.Debug("read lease not renewed", "err", err)
		}
		s.lease.renewMu.Unlock()
		cancel()
	}
}
