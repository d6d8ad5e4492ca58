package fsm

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// FSM is the replicated state machine. Apply is called by one goroutine (the
// Raft apply loop); the read methods may be called concurrently from any
// number of goroutines. Every method is safe for concurrent use.
//
// Records handed to callers are copies: mutating them never changes the state.
// Inside the state, records are immutable values: a change replaces the map
// entry with a new value and never writes through a shared slice, which is
// what makes a shallow clone of the maps a consistent snapshot.
type FSM struct {
	mu    sync.RWMutex
	s     *state
	clock atomic.Int64 // s.clock, for LastTime to read without the lock
}

// New returns an empty FSM at applied index 0.
func New() *FSM {
	return &FSM{s: newState()}
}

// Apply applies command c, decoded from the log entry at index, and returns its
// outcome. The applied index becomes index whatever the outcome.
//
// c == nil stands for an unknown command marked ignorable (see Decode): only
// the applied index advances.
//
// A command whose request ID is non-zero and was already applied (and not yet
// purged, see DedupRetention) is not applied again: Apply returns the Result
// remembered from the first time and leaves the state as it is. This makes a
// proposal retried after an indeterminate outcome take effect once.
//
// A command takes effect at its Meta.Time or at the latest time a command
// already took effect, whichever is later (see LastTime): time in the state
// never runs backwards.
//
// Apply is deterministic: it reads no clock and no randomness and does no I/O,
// so replicas that apply the same entries hold the same state. It panics only
// for a Command implementation this package does not define, which is a
// programming error, not a property of the log.
func (f *FSM) Apply(index uint64, c Command) Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.s.applyEntry(index, c)
	f.clock.Store(f.s.clock)
	return r
}

// applyEntry applies the entry at index, c or the commands of a Batch.
func (s *state) applyEntry(index uint64, c Command) Result {
	s.index = index
	if c == nil {
		return Result{}
	}
	if b, ok := c.(*Batch); ok {
		out := Result{Results: make([]Result, len(b.commands))}
		for i, sub := range b.commands {
			if sub != nil {
				out.Results[i] = s.applyOnce(sub)
			}
		}
		return out
	}
	return s.applyOnce(c)
}

// applyOnce applies c unless its request ID was already applied, in which
// case it returns the remembered result. c takes effect at its time or at
// the state's clock, whichever is later (see advance).
func (s *state) applyOnce(c Command) Result {
	h := c.Header()
	now := s.advance(h.Time)
	if h.ID != (RequestID{}) {
		if a, ok := s.dedup[h.ID]; ok {
			r := a.Result.clone()
			r.Repeated = true
			return r
		}
	}
	r := s.apply(c, now)
	if h.ID != (RequestID{}) {
		s.dedup[h.ID] = applied{Time: now, Result: r.clone()}
	}
	return r
}

// advance moves the state's clock forward to t, if t is later, and returns
// the clock: the time a command stamped t takes effect at. Time in the log
// therefore never runs backwards, whichever leader's wall clock stamped
// the command: a command stamped earlier than one already applied (a
// leader whose clock is behind, or stepped back) is applied as if stamped
// at the clock. The clock comes only from the log, so every replica
// computes the same value.
func (s *state) advance(t int64) int64 {
	if t > s.clock {
		s.clock = t
	}
	return s.clock
}

// apply dispatches c, taking effect at now, to the function that applies
// its type.
func (s *state) apply(c Command, now int64) Result {
	switch c := c.(type) {
	case *CreateToken:
		return s.createToken(c, now)
	case *Refresh:
		return s.spendRefresh(c, now)
	case *Invalidate:
		return s.invalidate(c)
	case *Purge:
		return s.purge(now)
	case *PutUser:
		return s.putUser(c)
	case *DeleteUser:
		return s.deleteUser(c)
	case *SetPassword:
		return s.setPassword(c)
	case *SetEnabled:
		return s.setEnabled(c)
	case *SetNode:
		return s.setNode(c)
	case *InitCluster:
		return s.initCluster(c)
	case *CreateEnrollment:
		return s.createEnrollment(c)
	case *ConsumeEnrollment:
		return s.consumeEnrollment(c, now)
	case *PutRole:
		return s.putRole(c)
	case *DeleteRole:
		return s.deleteRole(c)
	}
	panic(fmt.Sprintf("fsm: Apply of unhandled command type %T", c))
}

// clone returns a copy of r that shares no memory with it.
func (r Result) clone() Result {
	r.Sealed = cloneBytes(r.Sealed)
	return r
}
