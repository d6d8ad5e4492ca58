package credentials

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// lowestPriority is the nice value of threads running bcrypt.
const lowestPriority = 19

// lowerThreadPriority moves the calling OS thread to the SCHED_IDLE policy,
// under which the kernel runs it only on CPU time that no normal thread
// wants and preempts it as soon as one wakes, and gives it the lowest nice
// value (19), which is what remains if the policy cannot be set. On Linux
// both are per thread; the caller must be locked to its thread and must
// never unlock it, since an unprivileged thread cannot get its priority
// back. Failure leaves the thread as it was, which is only slower for other
// requests.
func lowerThreadPriority() {
	_ = unix.SchedSetAttr(0, &unix.SchedAttr{Policy: unix.SCHED_IDLE, Nice: lowestPriority}, 0)
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), lowestPriority)
}
