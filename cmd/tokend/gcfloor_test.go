package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func TestGCPercentFor_AimsAtTheFloorAndNeverBelowGosDefault(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{4 << 20, 64 << 20, 1500},  // 4 MiB live: goal 4 MiB × 16 = 64 MiB
		{8 << 20, 64 << 20, 700},   // goal 8 MiB × 8
		{32 << 20, 64 << 20, 100},  // half the floor: Go's default already aims at it
		{220 << 20, 64 << 20, 100}, // a large state: the default
		{1 << 20, 64 << 20, 1600},  // 1 MiB live: the runtime's minimum, 4 MiB × 16, is the goal
		{1 << 10, 64 << 20, 1600},  // nearly empty: likewise
		{0, 64 << 20, 1600},        // not measured yet: likewise
		{1 << 10, 2 << 20, 100},    // a floor below the runtime's own minimum: the default
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
	// The goal is the floor, not a multiple of it: the runtime's own
	// minimum grows with GOGC.
	goal := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(goal)
	if g := goal[0].Value.Uint64(); g < 120<<20 || g > 136<<20 {
		t.Fatalf("heap goal %d MiB, want the floor, 128 MiB", g>>20)
	}
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
