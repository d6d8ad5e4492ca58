package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// heapFloor is the heap goal below which tokend does not let the garbage
// collector aim while GOGC is unset. A node's live heap is a few MiB until
// it holds many tokens, and at Go's default (GOGC 100: collect once the
// heap doubles) a follower answering 30,000 introspections a second
// collected 26 times a second. A large state (1M tokens: ~220 MiB) is far
// above the floor and keeps GOGC 100.
const heapFloor = 64 << 20

// runtimeHeapMinimum is the Go runtime's smallest heap goal at GOGC 100.
// It scales with GOGC: at GOGC p no goal is below runtimeHeapMinimum ×
// p/100, whatever the live heap, so a GOGC that aims a small live heap at
// the floor must stay at or below floor/runtimeHeapMinimum × 100.
const runtimeHeapMinimum = 4 << 20

// keepHeapFloor keeps the heap goal at least floor bytes by raising GOGC
// after each collection while the live heap is below half of it, unless
// the operator set GOGC, which it leaves alone. It returns a func that
// stops it (the GOGC last set stays).
func keepHeapFloor(getenv func(string) string, floor uint64) (stop func()) {
	if getenv("GOGC") != "" {
		return func() {}
	}
	f := &gcFloor{floor: floor, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	f.adjust()
	f.arm()
	return func() { f.stopped.Store(true) }
}

// gcFloor re-computes GOGC after every collection: a finalizer on a
// sentinel object runs once the collector has found it unreachable, and
// arms a new one.
type gcFloor struct {
	floor   uint64
	sample  []metrics.Sample
	percent int // GOGC last set; only the finalizer goroutine touches it after arm
	stopped atomic.Bool
}

// gcSentinel is the unreachable object whose finalizer marks a collection.
type gcSentinel struct{ f *gcFloor }

// arm allocates a sentinel whose finalizer runs after the next collection.
func (f *gcFloor) arm() {
	runtime.SetFinalizer(&gcSentinel{f: f}, func(s *gcSentinel) {
		if s.f.stopped.Load() {
			return
		}
		s.f.adjust()
		s.f.arm()
	})
}

// adjust sets GOGC for the live heap the last collection measured.
func (f *gcFloor) adjust() {
	metrics.Read(f.sample)
	var live uint64
	if f.sample[0].Value.Kind() == metrics.KindUint64 {
		live = f.sample[0].Value.Uint64()
	}
	if p := gcPercentFor(live, f.floor); p != f.percent {
		debug.SetGCPercent(p)
		f.percent = p
	}
}

// gcPercentFor is the GOGC that makes a heap of live bytes aim at floor:
// the goal is the larger of live × (1 + GOGC/100) and runtimeHeapMinimum ×
// GOGC/100. It is never less than Go's default 100; before the first
// collection (live 0) it is the bound alone.
func gcPercentFor(live, floor uint64) int {
	if live*2 >= floor {
		return 100
	}
	p := floor * 100 / runtimeHeapMinimum
	if live > 0 {
		p = min(p, floor*100/live-100)
	}
	return int(max(p, 100))
}
