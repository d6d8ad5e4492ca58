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

// latencyFault is one fault of TestMeasure_RevocationAndWritesUnderAFault:
// impair starts it (l is the leader, f a follower, r the replica), heal
// ends it, and the measured requests go through via.
type latencyFault struct {
	name         string
	impair, heal func(l, f, r *node)
	via          func(l, f, r *node) *node
}

// TestMeasure_RevocationAndWritesUnderAFault measures, for each fault, the
// time from the fault to the first write answered (a client_credentials
// grant), then how long invalidations take: the first one after the fault
// (which may wait for the rest of an impaired member's read lease) and the
// later ones (median, p99). A follower or the replica is impaired with the
// requests sent through the leader; the leader is impaired with them sent
// through a follower, which must move them to the new leader. It runs
// only with TOKEND_MEASURE=1; the figures are in docs/guarantees.md.
func TestMeasure_RevocationAndWritesUnderAFault(t *testing.T) {
	if os.Getenv("TOKEND_MEASURE") == "" {
		t.Skip("a measurement: set TOKEND_MEASURE=1 to run it")
	}
	requireProc(t)
	c := startCluster(t, 3)
	c.addReplica()
	viaLeader := func(l, f, r *node) *node { return l }
	viaFollower := func(l, f, r *node) *node { return f }
	none := func(l, f, r *node) {}
	cut := func(victim func(l, f, r *node) *node) func(l, f, r *node) {
		return func(l, f, r *node) {
			v := victim(l, f, r)
			rest := slices.DeleteFunc(c.all(), func(n *node) bool { return n == v })
			c.partition(Blackhole, []*node{v}, rest)
		}
	}
	faults := []latencyFault{
		{"no fault", none, none, viaLeader},
		{"follower's Raft link from the leader dropped", func(l, f, r *node) { lagging(l, f) }, none, viaLeader},
		{"follower cut off (blackhole, Raft and HTTP)", cut(func(l, f, r *node) *node { return f }), none, viaLeader},
		{"follower paused (SIGSTOP)", func(l, f, r *node) { f.pause() }, func(l, f, r *node) { f.resume() }, viaLeader},
		{"replica cut off (blackhole, Raft and HTTP)", cut(func(l, f, r *node) *node { return r }), none, viaLeader},
		{"no fault, through a follower", none, none, viaFollower},
		{"leader cut off (blackhole, Raft and HTTP)", cut(func(l, f, r *node) *node { return l }), none, viaFollower},
		{"leader paused (SIGSTOP)", func(l, f, r *node) { l.pause() }, func(l, f, r *node) { l.resume() }, viaFollower},
	}
	for _, fault := range faults {
		s := newScript(c)
		l := c.waitHealthy(60 * time.Second)
		f := c.others(l.id)[0]
		tokens := make([]string, latencyRounds+1)
		for i := range tokens {
			_, tokens[i] = s.issue(l, "")
		}
		s.accepted(f, 1, tokens[0]) // f and the replica hold leases
		s.accepted(c.replica.Load(), 1, tokens[0])
		via := fault.via(l, f, c.replica.Load())
		fault.impair(l, f, c.replica.Load())
		began := time.Now()
		grant, basic := grantBody(false)
		if op := send(s.client, requestTimeout, via, Issue, "POST", "/_security/oauth2/token", grant, basic, ""); op.outcome != OK {
			t.Errorf("%s: grant answered %s (HTTP %d)", fault.name, op.outcome, op.status)
		}
		firstWrite := time.Since(began)
		var took []time.Duration
		for _, tok := range tokens {
			start := time.Now()
			op := s.send(2, requestTimeout, via, InvalidateAccess, 0, "DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, tok), false, "")
			if op.Outcome != OK {
				t.Errorf("%s: invalidation answered %s (HTTP %d)", fault.name, op.Outcome, op.Status)
			}
			took = append(took, time.Since(start))
		}
		fault.heal(l, f, c.replica.Load())
		s.healed()
		later := slices.Clone(took[1:])
		slices.Sort(later)
		t.Logf("%-46s first write %7.1f ms; first invalidation %7.1f ms; later (%d): median %6.1f ms, p99 %6.1f ms",
			fault.name, ms64(firstWrite), ms64(took[0]), len(later), ms64(later[len(later)/2]), ms64(later[len(later)*99/100]))
	}
}

func ms64(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
