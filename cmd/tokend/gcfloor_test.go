package main

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestGCPercentFor_AimsAtTheFloorAndNeverBelowGosDefault(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{4 << 20, 64 << 20, 1500},   // 4 MiB live: goal 64 MiB
		{32 << 20, 64 << 20, 100},   // half the floor: Go's default already aims at it
		{220 << 20, 64 << 20, 100},  // a large state: the default
		{1 << 10, 64 << 20, 10000},  // nearly empty: bounded
		{0, 64 << 20, maxGCPercent}, // not measured yet
	} {
		if got := gcPercentFor(c.live, c.floor); got != c.want {
			t.Errorf("gcPercentFor(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
		}
	}
}

// gcPercent reads the process's GOGC.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// The floor follows the live heap from one collection to the next, and
// leaves an operator's GOGC alone. Not parallel: GOGC is the process's.
func TestKeepHeapFloor_RaisesGOGCForASmallHeapAndFollowsItsGrowth(t *testing.T) {
	defer debug.SetGCPercent(gcPercent())
	debug.SetGCPercent(100)
	if stop := keepHeapFloor(func(string) string { return "200" }, 1<<30); gcPercent() != 100 {
		stop()
		t.Fatalf("GOGC is %d with the operator's GOGC set; the floor must leave it alone", gcPercent())
	}
	stop := keepHeapFloor(func(string) string { return "" }, 128<<20) // far above this test's heap
	defer stop()
	runtime.GC()
	waitForGOGC(t, func(p int) bool { return p > 100 }, "above 100 for a heap far below the floor")
	big := make([][]byte, 0, 10)
	for range cap(big) {
		big = append(big, make([]byte, 8<<20)) // 80 MiB live: above half the floor
	}
	runtime.GC()
	waitForGOGC(t, func(p int) bool { return p == 100 }, "back to 100 once the live heap reached half the floor")
	runtime.KeepAlive(big)
}

// waitForGOGC runs collections until GOGC satisfies ok: the finalizer that
// adjusts it runs on its own goroutine after a collection.
func waitForGOGC(t *testing.T, ok func(int) bool, want string) {
	t.Helper()
	for range 100 {
		if ok(gcPercent()) {
			return
		}
		runtime.GC()
		runtime.Gosched()
	}
	t.Fatalf("GOGC is %d, want %s", gcPercent(), want)
}
