//go:build !unix

package raftnode

import "os"

// unlockFile does nothing where bbolt's lock is not a flock.
func unlockFile(*os.File) {}
