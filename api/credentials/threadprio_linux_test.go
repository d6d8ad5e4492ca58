package credentials

import (
	"runtime"
	"syscall"
	"testing"

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
