package credentials

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// niceOf returns the nice value of thread tid (0: the calling thread).
func niceOf(t *testing.T, tid int) int {
	t.Helper()
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		t.Fatal(err)
	}
	return 20 - raw // the raw syscall answers 20 - nice
}

// policyOf returns the scheduling policy of thread tid (0: the calling thread).
func policyOf(t *testing.T, tid int) uint32 {
	t.Helper()
	attr, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		t.Fatal(err)
	}
	return attr.Policy
}

func TestLowerThreadPriority_LowersOnlyTheCallingThreadAndNeverToIdle(t *testing.T) {
	before, policyBefore := niceOf(t, 0), policyOf(t, 0)
	type prio struct {
		nice   int
		policy uint32
	}
	got := make(chan prio, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the lowered thread ends with the goroutine
		lowerThreadPriority()
		got <- prio{niceOf(t, syscall.Gettid()), policyOf(t, 0)}
	}()
	// SCHED_IDLE would leave a comparison no CPU at all beside a busy
	// neighbour: password grants then time out.
	if p := <-got; p.nice != comparisonNice || p.policy != unix.SCHED_NORMAL {
		t.Fatalf("the bcrypt thread runs at nice %d, policy %d; want nice %d, SCHED_NORMAL (%d)",
			p.nice, p.policy, comparisonNice, unix.SCHED_NORMAL)
	}
	if after := niceOf(t, 0); after != before {
		t.Fatalf("the process's main thread went from nice %d to %d", before, after)
	}
	if after := policyOf(t, 0); after != policyBefore {
		t.Fatalf("the process's main thread went from policy %d to %d", policyBefore, after)
	}
}

// niceOfComparison returns the nice value of the thread a gate of size
// slots runs its comparison on.
func niceOfComparison(t *testing.T, slots int) int {
	t.Helper()
	nice := make(chan int, 1)
	g := newBcryptGate(slots, time.Second, func(_, _ []byte) error {
		nice <- niceOf(t, syscall.Gettid())
		return nil
	})
	if _, err := g.compare(context.Background(), nil, "pw"); err != nil {
		t.Fatal(err)
	}
	return <-nice
}

// A comparison runs at a lower priority only while the gate leaves a
// processor free; when its slots take them all (GOMAXPROCS 1), a slowed
// thread would hold the process's only processor, and Raft's heartbeats
// with it.
func TestGate_LowersPriorityOnlyWhenAProcessorIsLeftFree(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	base := niceOf(t, 0)
	if got := niceOfComparison(t, procs); got != base {
		t.Errorf("with %d slots for GOMAXPROCS %d the comparison ran at nice %d, want the process's %d", procs, procs, got, base)
	}
	if procs < 2 {
		t.Skip("GOMAXPROCS is 1: no gate leaves a processor free here")
	}
	if got := niceOfComparison(t, procs-1); got != comparisonNice {
		t.Errorf("with %d slots for GOMAXPROCS %d the comparison ran at nice %d, want %d", procs-1, procs, got, comparisonNice)
	}
}
