package api

import "syscall"

// lowestPriority is the nice value of threads running bcrypt.
const lowestPriority = 19

// lowerThreadPriority gives the calling OS thread the lowest scheduling
// priority (nice 19). On Linux a priority is per thread; the caller must be
// locked to its thread and must never unlock it. Failure leaves the
// priority as it was, which is only slower for other requests.
func lowerThreadPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), lowestPriority)
}
