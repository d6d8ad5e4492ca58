package faults

import (
	"fmt"
	"testing"
	"time"
)

// Bounds of the cut-off replica scenario: one read lease (maxStaleness,
// 5 s) plus slack for a shared machine, and what a write that waits for no
// lease may take here.
const (
	oneLease  = 7 * time.Second
	noLeaseAt = 2 * time.Second
)

// A read replica cut off from every voter (Raft and HTTP, both ways,
// blackholed) changes nothing for writes that revoke nothing, costs the
// first revocation at most the lease it holds and later ones nothing, and
// never accepts a revoked token.
func TestReplica_CutOffCostsRevocationsAtMostOneLease(t *testing.T) {
	if testing.Short() {
		t.Skip("fault-injection suite skipped under -short")
	}
	requireProc(t)
	c := startCluster(t, 3)
	c.addReplica()
	s := newScript(c)
	l := c.waitHealthy(60 * time.Second)
	r := c.replica.Load()
	p1, a1 := s.issue(l, "")
	p2, a2 := s.issue(l, "")
	s.accepted(r, p1, a1)
	s.accepted(r, p2, a2)

	c.partition(Blackhole, []*node{r}, c.nodes)
	start := time.Now()
	s.issue(l, "")
	if d := time.Since(start); d > noLeaseAt {
		t.Errorf("a grant with the replica cut off took %v", d)
	}
	first := s.send(2, requestTimeout, l, InvalidateAccess, p1, "DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, a1), false, "")
	if d := first.Return - first.Call; first.Outcome != OK || d > oneLease {
		t.Errorf("the first revocation with the replica cut off: %s, more than one lease or failed", first)
	}
	later := s.send(2, requestTimeout, l, InvalidateAccess, p2, "DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, a2), false, "")
	if d := later.Return - later.Call; later.Outcome != OK || d > noLeaseAt {
		t.Errorf("a later revocation waited for the cut-off replica: %s", later)
	}
	s.probe(r, p1, a1)
	s.healed()
	s.probe(r, p2, a2)
	t.Logf("first revocation: %s; later: %s", first, later)
	s.check(t)
}
