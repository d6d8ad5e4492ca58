//go:build unix

package raftnode

import (
	"os"
	"syscall"
)

// unlockFile releases bbolt's flock on f. Closing f is not enough after a
// panic: bbolt's memory map of the file keeps it open, and the lock with it.
func unlockFile(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
