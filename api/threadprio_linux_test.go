package api

import (
	"runtime"
	"syscall"
	"testing"
)

func TestLowerThreadPriority_NicesOnlyTheCallingThread(t *testing.T) {
	niceOf := func(tid int) int {
		raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
		if err != nil {
			t.Fatal(err)
		}
		return 20 - raw // the raw syscall answers 20 - nice
	}
	before := niceOf(0)
	got := make(chan int, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the niced thread ends with the goroutine
		lowerThreadPriority()
		got <- niceOf(syscall.Gettid())
	}()
	if nice := <-got; nice != lowestPriority {
		t.Fatalf("the bcrypt thread runs at nice %d, want %d", nice, lowestPriority)
	}
	if after := niceOf(0); after != before {
		t.Fatalf("the process's main thread went from nice %d to %d", before, after)
	}
}
