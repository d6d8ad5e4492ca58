package credentials

import (
	"syscall"
)

// comparisonNice is the nice value of threads running bcrypt. Against a
// thread at nice 0 on the same core, one at nice 10 gets about a tenth of
// it (CFS weights 110 and 1024): a flood of password checks yields the
// processors to Bearer validation, Raft and the other nodes, and a busy
// neighbour slows a comparison about tenfold instead of stopping it.
// SCHED_IDLE (weight 3) starved them: beside two CPU-bound processes on
// two cores, one comparison took 10.3 s instead of 72 ms
// (scripts/bench/threadprio), and password grants timed out.
const comparisonNice = 10

// lowerThreadPriority gives the calling OS thread the nice value
// comparisonNice; on Linux it is per thread. The caller must be locked to
// its thread and must never unlock it, since an unprivileged thread cannot
// get its priority back. Failure leaves the thread as it was, which is only
// slower for other requests.
func lowerThreadPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), comparisonNice)
}
