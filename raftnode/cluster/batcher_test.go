package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
)

// The batcher sends a lone command at once, keeps at most
// maxBatchesInFlight batches on their way, and sends what queued meanwhile
// together.
func TestBatcher_GroupsWhatArrivesWhileAllSlotsAreBusy(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	b := &batcher{send: func(calls []*batchCall) {
		mu.Lock()
		sizes = append(sizes, len(calls))
		mu.Unlock()
		<-release
		for i, c := range calls {
			c.resolve(fsm.Result{Invalidated: i}, nil)
		}
	}}
	sent := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), sizes...)
	}
	var wg sync.WaitGroup
	submit := func() {
		wg.Go(func() {
			if _, err := b.submit(context.Background(), &fsm.Purge{}); err != nil {
				t.Error(err)
			}
		})
	}
	for range maxBatchesInFlight {
		submit()
	}
	waitFor(t, func() bool { return len(sent()) == maxBatchesInFlight })
	for range 10 {
		submit()
	}
	waitFor(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.queue) == 10
	})
	if got := sent(); len(got) != maxBatchesInFlight {
		t.Fatalf("batches sent with every slot busy: %v", got)
	}
	close(release)
	wg.Wait()
	got := sent()
	if len(got) != maxBatchesInFlight+1 || got[len(got)-1] != 10 {
		t.Fatalf("batch sizes %v: want %d singles, then the 10 queued together", got, maxBatchesInFlight)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	blocked := &batcher{send: func(calls []*batchCall) {}}
	if _, err := blocked.submit(ctx, &fsm.Purge{}); err != context.Canceled {
		t.Fatalf("submit with a cancelled context: %v", err)
	}
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
