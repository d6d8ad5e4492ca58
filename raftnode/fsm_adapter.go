package raftnode

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"github.com/tokend/tokend/fsm"
)

// fsmAdapter satisfies raft.FSM and raft.BatchingFSM by decoding entries and
// calling the pure fsm package. It adds only bookkeeping: seen, the highest
// log index Raft has handed over (commands, ignorable entries and
// configuration changes alike), and a broadcast after every batch and
// restore so that waiters never poll.
type fsmAdapter struct {
	f      *fsm.FSM
	obs    Observer // nil: none
	seen   atomic.Uint64
	notify notifier
}

var _ raft.BatchingFSM = (*fsmAdapter)(nil)

// Apply applies one entry. Raft calls it only if batching is off.
func (a *fsmAdapter) Apply(l *raft.Log) any {
	return a.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies committed entries in log order and returns one
// response per entry: an fsm.Result for LogCommand entries, nil for the
// others (configuration changes), which the FSM does not see.
func (a *fsmAdapter) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	for i, l := range logs {
		out[i] = a.apply(l)
	}
	if len(logs) > 0 {
		a.seen.Store(logs[len(logs)-1].Index)
	}
	a.notify.broadcast()
	return out
}

// apply decodes and applies a LogCommand entry. An entry this build cannot
// decode (an unknown type without the ignorable bit, or a corrupt body)
// panics: every replica must apply the same entries in the same order, and a
// replica that skipped one would silently diverge from the others forever.
// Stopping is the only safe answer; upgrade the binary and restart.
func (a *fsmAdapter) apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	cmd, err := fsm.Decode(l.Data)
	if err != nil {
		panic(fmt.Sprintf("raftnode: cannot apply log entry %d (term %d): %v; "+
			"refusing to skip an entry that other replicas apply", l.Index, l.Term, err))
	}
	// cmd is nil for an ignorable type unknown to this build (or a read
	// marker): fsm.Apply then only advances its applied index, which keeps
	// that index equal on every replica whichever build it runs.
	r := a.f.Apply(l.Index, cmd)
	if a.obs != nil && cmd != nil {
		a.obs.Applied(l.Index, cmd, r, a.f.LastTime())
	}
	return r
}

// Snapshot captures the FSM's immutable view; it is cheap and takes no lock
// that Persist would hold.
func (a *fsmAdapter) Snapshot() (raft.FSMSnapshot, error) {
	if a.obs != nil {
		if err := a.obs.Flush(); err != nil {
			return nil, fmt.Errorf("raftnode: before snapshot: %w", err)
		}
	}
	return &fsmSnapshot{view: a.f.Snapshot()}, nil
}

// Restore replaces the FSM's state with a snapshot and wakes the waiters.
func (a *fsmAdapter) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := a.f.Restore(rc); err != nil {
		return fmt.Errorf("raftnode: restore snapshot: %w", err)
	}
	idx := a.f.AppliedIndex()
	if idx > a.seen.Load() {
		a.seen.Store(idx)
	}
	if a.obs != nil {
		a.obs.Restored(idx)
	}
	a.notify.broadcast()
	return nil
}

// fsmSnapshot streams an fsm.View into a Raft snapshot sink.
type fsmSnapshot struct{ view *fsm.View }

// Persist writes the view; on failure it cancels the sink so that Raft
// discards the partial snapshot.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.view.WriteTo(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("raftnode: persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release is a no-op: the view is immutable and owns no resources.
func (s *fsmSnapshot) Release() {}

// notifier is a broadcast: wait returns a channel that the next broadcast
// closes. Take the channel before checking the condition, so no wake-up can
// fall between the check and the wait.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) broadcast() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}
