package lease

import (
	"slices"
	"testing"
	"time"
)

// fakeClock is a Clock the test moves by hand.
type fakeClock struct{ t time.Duration }

func (c *fakeClock) now() time.Duration { return c.t }

const (
	length       = 5 * time.Second
	leaderLength = time.Second
)

func newTable() (*Table, *fakeClock) {
	c := &fakeClock{t: time.Hour}
	tb := New(length, leaderLength, c.now)
	tb.Lead(1, "")
	c.t += length // the take-over time is over
	return tb, c
}

func TestHolders_WaitsOnlyForGrantsRecordedUpToTheCommit(t *testing.T) {
	tb, c := newTable()
	tb.Grant("a", 1)
	c.t += time.Second
	at := tb.Now() // a revocation commits
	c.t += time.Second
	tb.Grant("b", 1) // after the commit: its index includes the revocation
	tb.Grant("a", 1)
	got := tb.Holders(at, "leader", []string{"leader", "a", "b"})
	want := []Hold{{Member: "a", Left: length - 2*time.Second}}
	if !slices.Equal(got, want) {
		t.Fatalf("holders = %v, want %v", got, want)
	}
}

func TestHolders_AMemberOutOfContactLongerThanALeaseCostsNothing(t *testing.T) {
	tb, c := newTable()
	tb.Grant("a", 1)
	c.t += length
	if got := tb.Holders(tb.Now(), "leader", []string{"leader", "a"}); len(got) != 0 {
		t.Fatalf("holders = %v, want none once the grant has ended", got)
	}
}

func TestHolders_RemovedMemberWaitsUntilItsGrantEnds(t *testing.T) {
	tb, c := newTable()
	tb.Grant("gone", 1)
	c.t += time.Second
	got := tb.Holders(tb.Now(), "leader", []string{"leader"})
	if len(got) != 1 || got[0].Member != "gone" || got[0].Left != length-time.Second {
		t.Fatalf("holders = %v, want the removed member for the rest of its grant", got)
	}
}

func TestHolders_NewLeaderCountsEveryMemberForOneLength(t *testing.T) {
	c := &fakeClock{t: time.Hour}
	tb := New(length, leaderLength, c.now)
	tb.Lead(3, "")
	c.t += time.Second
	got := tb.Holders(tb.Now(), "leader", []string{"leader", "a", "b"})
	want := []Hold{{Member: "a", Left: length - time.Second}, {Member: "b", Left: length - time.Second}}
	if !slices.Equal(got, want) {
		t.Fatalf("holders = %v, want %v", got, want)
	}
	tb.Lead(3, "") // the same term again: no new take-over time
	c.t += length
	if got := tb.Holders(tb.Now(), "leader", []string{"leader", "a", "b"}); len(got) != 0 {
		t.Fatalf("holders = %v, want none after the take-over time", got)
	}
	tb.Grant("a", 4) // leading again in a later term
	if got := tb.Holders(tb.Now(), "leader", []string{"leader", "a", "b"}); len(got) != 2 {
		t.Fatalf("holders = %v, want every member in a new term", got)
	}
}

// The leader of the term just before counts for leaderLength only: it held
// no lease but its own, which it could not renew once this term began.
// Without it named, it counts for the whole take-over time like the others.
func TestHolders_ThePreviousLeaderCountsForALeadersLeaseOnly(t *testing.T) {
	c := &fakeClock{t: time.Hour}
	tb := New(length, leaderLength, c.now)
	tb.Lead(7, "")
	c.t += 300 * time.Millisecond
	tb.Lead(7, "old") // learnt a moment later; counted from the take-over
	got := tb.Holders(tb.Now(), "leader", []string{"leader", "old", "b"})
	want := []Hold{{Member: "b", Left: length - 300*time.Millisecond}, {Member: "old", Left: leaderLength - 300*time.Millisecond}}
	if !slices.Equal(got, want) {
		t.Fatalf("holders = %v, want %v", got, want)
	}
	c.t += leaderLength
	got = tb.Holders(tb.Now(), "leader", []string{"leader", "old", "b"})
	if len(got) != 1 || got[0].Member != "b" {
		t.Fatalf("holders = %v, want only b once the old leader's own lease is over", got)
	}
	tb.Lead(8, "")
	if got := tb.Holders(tb.Now(), "leader", []string{"leader", "old", "b"}); len(got) != 2 {
		t.Fatalf("holders = %v, want both in a term whose predecessor is not known", got)
	}
}

func TestHeld_ReportsAnUnexpiredGrantAndItsTimeLeft(t *testing.T) {
	tab, clock := newTable()
	if _, ok := tab.Held("r1"); ok {
		t.Fatal("a member that never asked holds a lease")
	}
	tab.Grant("r1", 1)
	clock.t += time.Second
	if left, ok := tab.Held("r1"); !ok || left != tab.length-time.Second {
		t.Fatalf("Held = %v, %v; want %v, true", left, ok, tab.length-time.Second)
	}
	clock.t += tab.length
	if _, ok := tab.Held("r1"); ok {
		t.Fatal("an ended grant is still held")
	}
}
