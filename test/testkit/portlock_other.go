//go:build !unix

package testkit

// reservePort reserves nothing where flock(2) is missing: FreeAddr's probe
// and its per-process memory are all there is.
func reservePort(string) bool { return true }
