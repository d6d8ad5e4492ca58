package api

import (
	"strconv"
	"testing"
)

// The per-request cost of the failure limits, paid before every password
// check (Basic authentication and the password grant; Bearer tokens never
// consult them). Untracked keys are the common case: a key is tracked only
// while it has failures to pay back.

func BenchmarkAuthLimits_BlockedUntracked(b *testing.B) {
	l := newAuthLimits()
	b.ReportAllocs()
	for b.Loop() {
		if l.blocked("elastic", "127.0.0.1") != nil {
			b.Fatal("an untracked key was blocked")
		}
	}
}

func BenchmarkAuthLimits_BlockedTracked(b *testing.B) {
	l := newAuthLimits()
	l.failed("elastic", "127.0.0.1") // one failure: tracked, still within budget
	b.ReportAllocs()
	for b.Loop() {
		if l.blocked("elastic", "127.0.0.1") != nil {
			b.Fatal("a key with budget left was blocked")
		}
	}
}

// BenchmarkAuthLimits_BlockedParallel shows the contention on the limiters'
// mutexes when every core checks at once, with 10,000 tracked keys.
func BenchmarkAuthLimits_BlockedParallel(b *testing.B) {
	l := newAuthLimits()
	for i := range maxLimitedKeys {
		l.users.fail("user"+strconv.Itoa(i), l.now())
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if l.blocked("elastic", "127.0.0.1") != nil {
				b.Error("an untracked key was blocked")
				return
			}
		}
	})
}
