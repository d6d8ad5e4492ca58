package faults

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// latencyRounds is how many invalidations follow the first one after a
// fault, per fault.
const latencyRounds = 50

// TestMeasure_InvalidationLatencyUnderAFollowerFault measures how long an
// invalidation through the leader takes while one follower is impaired:
// the first one after the fault (which may wait for the rest of the
// follower's read lease) and the later ones (median, p99). It runs only
// with TOKEND_MEASURE=1; the figures are in docs/guarantees.md.
func TestMeasure_InvalidationLatencyUnderAFollowerFault(t *testing.T) {
	if os.Getenv("TOKEND_MEASURE") == "" {
		t.Skip("a measurement: set TOKEND_MEASURE=1 to run it")
	}
	requireProc(t)
	c := startCluster(t, 3)
	faults := []struct {
		name         string
		impair, heal func(l, f *node)
	}{
		{"no fault", func(l, f *node) {}, func(l, f *node) {}},
		{"follower's Raft link from the leader dropped", lagging, func(l, f *node) {}},
		{"follower cut off (blackhole, Raft and HTTP)", func(l, f *node) { c.partition(Blackhole, []*node{f}, c.others(f.id)) },
			func(l, f *node) {}},
		{"follower paused (SIGSTOP)", func(l, f *node) { f.pause() }, func(l, f *node) { f.resume() }},
	}
	for _, fault := range faults {
		s := newScript(c)
		l := c.waitHealthy(60 * time.Second)
		f := c.others(l.id)[0]
		tokens := make([]string, latencyRounds+1)
		for i := range tokens {
			_, tokens[i] = s.issue(l, "")
		}
		s.accepted(f, 1, tokens[0]) // f holds a lease
		fault.impair(l, f)
		var took []time.Duration
		for _, tok := range tokens {
			start := time.Now()
			op := s.send(2, requestTimeout, l, InvalidateAccess, 0, "DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, tok), false, "")
			if op.Outcome != OK {
				t.Errorf("%s: invalidation answered %s (HTTP %d)", fault.name, op.Outcome, op.Status)
			}
			took = append(took, time.Since(start))
		}
		fault.heal(l, f)
		s.healed()
		later := slices.Clone(took[1:])
		slices.Sort(later)
		t.Logf("%-48s first %7.1f ms; later (%d): median %6.1f ms, p99 %6.1f ms, max %6.1f ms", fault.name,
			ms64(took[0]), len(later), ms64(later[len(later)/2]), ms64(later[len(later)*99/100]), ms64(later[len(later)-1]))
	}
}

func ms64(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
