//go:build unix

package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// portLockDir holds one lock file per port handed out by FreeAddr in any
// test process on this machine.
var portLockDir = filepath.Join(os.TempDir(), "tokend-test-ports")

// portLocks keeps the reserving processes' lock files open (and so locked)
// until the process exits, when the kernel releases them.
var portLocks struct {
	sync.Mutex
	files []*os.File
}

// reservePort takes an exclusive lock on addr's port for the rest of this
// process, so that FreeAddr in another test process never hands out the
// same port: between a free-port probe and the bind, and while a test
// holds a port unbound (a container recreated on its old host port), a
// second process could otherwise take it. It reports false when another
// process holds the port; a lock that cannot be made at all (no temporary
// directory) leaves the port to the probe alone.
func reservePort(addr string) bool {
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	if err := os.MkdirAll(portLockDir, 0o777); err != nil {
		return true
	}
	f, err := os.OpenFile(filepath.Join(portLockDir, port), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	portLocks.Lock()
	portLocks.files = append(portLocks.files, f)
	portLocks.Unlock()
	return true
}
