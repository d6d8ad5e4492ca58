package credentials

import (
	"syscall"
)

// comparisonNice is the nice value of threads running bcrypt. Against a
// thread at nice 0 on the same core, one at nice 5 gets about a quarter of
// it (CFS weights 335 and 1024): a flood of password checks yields the
// processors to Bearer validation, Raft and the other nodes, and a busy
// neighbour slows a comparison about fourfold instead of stopping it.
// Measured beside two CPU-bound processes on two cores
// (scripts/bench/threadprio), a comparison took p50 10.3 s under
// SCHED_IDLE, 691 ms at nice 10, 71 ms (p99 300 ms) at nice 5 and 72 ms
// (p99 141 ms) at normal priority; authenticate's p99 during a bcrypt
// flood over its idle p99 (bench.sh) was 1.3-1.4, 1.9, 1.9 and 2.2.
const comparisonNice = 5

// lowerThreadPriority gives the calling OS thread the nice value
// comparisonNice; on Linux it is per thread. The caller must be locked to
// its thread and must never unlock it, since an unprivileged thread cannot
// get its priority back. Failure leaves the thread as it was, which is only
// slower for other requests.
func lowerThreadPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), comparisonNice)
}
