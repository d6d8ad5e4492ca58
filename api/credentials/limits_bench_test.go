package credentials

import (
	"strconv"
	"testing"
	"time"
)

// The per-request cost of the failure limits, paid around every password
// check that runs a comparison (Basic authentication and the password
// grant; Bearer tokens never consult them): the check that neither key is
// out of budget, a hold before the comparison and, on success, its refund.
// Untracked keys are the common case: a key is tracked only while it has
// failures to pay back or comparisons in flight.

// limitsRound is what one successful password check costs the limits.
func limitsRound(l *authLimits) bool {
	if l.blocked("elastic", "127.0.0.1") != nil {
		return false
	}
	b := l.budget("elastic", "127.0.0.1")
	if b.reserve() != nil {
		return false
	}
	b.settle(false)
	return true
}

// benchLimits returns the default limits on the real clock.
func benchLimits() *authLimits {
	return newAuthLimits(Limit{Burst: UserFailureBurst, Every: UserFailureEvery},
		Limit{Burst: AddrFailureBurst, Every: AddrFailureEvery}, time.Now)
}

func BenchmarkAuthLimits_CheckUntracked(b *testing.B) {
	l := benchLimits()
	b.ReportAllocs()
	for b.Loop() {
		if !limitsRound(l) {
			b.Fatal("an untracked key was refused")
		}
	}
}

func BenchmarkAuthLimits_CheckTracked(b *testing.B) {
	l := benchLimits()
	_ = l.budget("elastic", "127.0.0.1").reserve() // one failure held: tracked, still within budget
	b.ReportAllocs()
	for b.Loop() {
		if !limitsRound(l) {
			b.Fatal("a key with budget left was refused")
		}
	}
}

// BenchmarkAuthLimits_CheckParallel shows the contention on the limiters'
// mutexes when every core checks at once, with 10,000 tracked keys.
func BenchmarkAuthLimits_CheckParallel(b *testing.B) {
	l := benchLimits()
	for i := range maxLimitedKeys {
		l.users.take("user"+strconv.Itoa(i), l.now())
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !limitsRound(l) {
				b.Error("an untracked key was refused")
				return
			}
		}
	})
}
