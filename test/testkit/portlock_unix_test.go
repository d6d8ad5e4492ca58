//go:build unix

package testkit

import "testing"

// A port FreeAddr handed out is held for the rest of the process: any other
// reservation of it, each with a lock file of its own as another test
// process would make, is refused.
func TestFreeAddr_ReservesItsPortAgainstOtherProcesses(t *testing.T) {
	addr := FreeAddr(t)
	if reservePort(addr) {
		t.Fatalf("%s was reserved a second time while FreeAddr's reservation holds it", addr)
	}
}
