//go:build !linux

package credentials

// lowerThreadPriority does nothing where thread priorities are not per
// thread: bcrypt then runs at normal priority, bounded by the gate alone.
func lowerThreadPriority() {}
