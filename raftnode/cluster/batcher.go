package cluster

import (
	"context"
	"sync"

	"github.com/tokend/tokend/fsm"
)

// Bounds of write batching (see also MaxBatch).
const (
	// maxBatchesInFlight is how many batches a node has on their way at
	// once. Commands that arrive meanwhile wait and leave together in the
	// next batch, so batches grow with the load and a lone request is sent
	// at once. One performs best here: with 64 clients through a follower,
	// 1 gave 4,385 grants/s, 2 gave 3,261, 4 gave 3,230 and 8 gave 2,156,
	// because every batch costs a Raft entry, an fsync on each node and an
	// HTTP round trip to the leader.
	maxBatchesInFlight = 1
)

// batcher groups commands submitted concurrently into batches and hands
// each batch to send. It keeps no goroutine of its own: a batch is sent by
// a goroutine started for it, which starts the next one when it is done.
type batcher struct {
	// send delivers one batch and resolves every call in it (result or err).
	send func(calls []*batchCall)

	mu       sync.Mutex
	queue    []*batchCall
	inFlight int
}

// batchCall is one submitted command and, once done is closed, its outcome.
type batchCall struct {
	cmd  fsm.Command
	res  fsm.Result
	err  error
	done chan struct{}
}

// resolve records the call's outcome and wakes its submitter.
func (c *batchCall) resolve(res fsm.Result, err error) {
	c.res, c.err = res, err
	close(c.done)
}

// submit queues c and waits for its outcome or for ctx. A command whose
// submitter gave up may still be applied: the caller treats ctx's error as
// an indeterminate outcome, as for any proposal.
func (b *batcher) submit(ctx context.Context, c fsm.Command) (fsm.Result, error) {
	call := &batchCall{cmd: c, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, call)
	b.startLocked()
	b.mu.Unlock()
	select {
	case <-call.done:
		return call.res, call.err
	case <-ctx.Done():
		return fsm.Result{}, ctx.Err()
	}
}

// startLocked starts sending queued calls while a slot is free.
func (b *batcher) startLocked() {
	for len(b.queue) > 0 && b.inFlight < maxBatchesInFlight {
		n := min(len(b.queue), MaxBatch)
		calls := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.inFlight++
		go b.run(calls)
	}
}

// run sends one batch, frees its slot and starts what queued meanwhile.
func (b *batcher) run(calls []*batchCall) {
	b.send(calls)
	b.mu.Lock()
	b.inFlight--
	b.startLocked()
	b.mu.Unlock()
}
