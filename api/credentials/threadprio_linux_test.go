package credentials

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLowerThreadPriority_LowersOnlyTheCallingThread(t *testing.T) {
	niceOf := func(tid int) int {
		raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
		if err != nil {
			t.Fatal(err)
		}
		return 20 - raw // the raw syscall answers 20 - nice
	}
	before := niceOf(0)
	policyOf := func(tid int) uint32 {
		attr, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			t.Fatal(err)
		}
		return attr.Policy
	}
	policyBefore := policyOf(0)
	type prio struct {
		nice   int
		policy uint32
	}
	got := make(chan prio, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the lowered thread ends with the goroutine
		lowerThreadPriority()
		got <- prio{niceOf(syscall.Gettid()), policyOf(0)}
	}()
	if p := <-got; p.nice != lowestPriority || p.policy != unix.SCHED_IDLE {
		t.Fatalf("the bcrypt thread runs at nice %d, policy %d; want nice %d, SCHED_IDLE (%d)",
			p.nice, p.policy, lowestPriority, unix.SCHED_IDLE)
	}
	if after := niceOf(0); after != before {
		t.Fatalf("the process's main thread went from nice %d to %d", before, after)
	}
	if after := policyOf(0); after != policyBefore {
		t.Fatalf("the process's main thread went from policy %d to %d", policyBefore, after)
	}
}

// policyOfComparison returns the scheduling policy of the thread a gate of
// size slots runs its comparison on.
func policyOfComparison(t *testing.T, slots int) uint32 {
	t.Helper()
	policy := make(chan uint32, 1)
	g := newBcryptGate(slots, time.Second, func(_, _ []byte) error {
		attr, err := unix.SchedGetAttr(0, 0)
		if err != nil {
			t.Error(err)
			return err
		}
		policy <- attr.Policy
		return nil
	})
	if _, err := g.compare(context.Background(), nil, "pw"); err != nil {
		t.Fatal(err)
	}
	return <-policy
}

// A comparison runs at the lowest priority only while the gate leaves a
// processor free; when its slots take them all (GOMAXPROCS 1), a starved
// low-priority thread would hold the process's only processor, and Raft's
// heartbeats with it.
func TestGate_LowersPriorityOnlyWhenAProcessorIsLeftFree(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	if got := policyOfComparison(t, procs); got == unix.SCHED_IDLE {
		t.Errorf("with %d slots for GOMAXPROCS %d the comparison ran under SCHED_IDLE", procs, procs)
	}
	if procs < 2 {
		t.Skip("GOMAXPROCS is 1: no gate leaves a processor free here")
	}
	if got := policyOfComparison(t, procs-1); got != unix.SCHED_IDLE {
		t.Errorf("with %d slots for GOMAXPROCS %d the comparison ran under policy %d, want SCHED_IDLE", procs-1, procs, got)
	}
}
