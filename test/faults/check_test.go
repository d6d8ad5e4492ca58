package faults

import (
	"strings"
	"testing"
	"time"
)

// ms is a history time in milliseconds.
func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// op builds a recorded op on pair 1 from call to ret (milliseconds).
func op(kind Kind, call, ret int, out Outcome, result int) Op {
	return Op{Node: "n1", Kind: kind, Pair: 1, Call: ms(call), Return: ms(ret), Outcome: out, Result: result}
}

func TestCheck_AcceptsAHistoryThatKeepsEveryGuarantee(t *testing.T) {
	h := []Op{
		op(Authenticate, 0, 5, OK, 0),
		op(Refresh, 10, 20, OK, 2),
		op(Refresh, 11, 25, OK, 2),          // racer: same pair
		op(Refresh, 12, 30, Unavailable, 0), // lost answer
		op(Refresh, 40, 45, OK, 2),          // retry in the window: same pair
		op(InvalidateAccess, 50, 60, OK, 0),
		op(Authenticate, 52, 58, Refused, 0), // concurrent: either answer
		op(Authenticate, 65, 66, Refused, 0),
		op(InvalidateRefresh, 70, 80, Unavailable, 0),
		op(Refresh, 90, 95, GrantInvalidated, 0), // the lost invalidation took effect
	}
	if v := Check(h, time.Second); len(v.Violations) != 0 || v.Inconclusive != 0 {
		t.Fatalf("violations in a legal history: %+v", v)
	}
}

func TestCheck_FindsAndMinimizesBrokenGuarantees(t *testing.T) {
	cases := []struct {
		name      string
		history   []Op
		guarantee string
		minimal   int
	}{
		{"revoked token accepted after the answer", []Op{
			op(Authenticate, 0, 5, OK, 0),
			op(InvalidateAccess, 10, 20, OK, 0),
			op(Authenticate, 21, 22, Refused, 0),
			op(Authenticate, 30, 31, OK, 0),
		}, "revocation holds", 2},
		{"issued token refused", []Op{
			op(Authenticate, 0, 5, OK, 0),
			op(Authenticate, 10, 11, Refused, 0),
		}, "read-your-writes", 1},
		{"two pairs from one refresh token", []Op{
			op(Refresh, 0, 10, OK, 2),
			op(Refresh, 1, 12, OK, 3),
		}, "exactly-once refresh", 2},
		{"refresh refused as invalidated without an invalidation", []Op{
			op(Authenticate, 0, 5, OK, 0),
			op(Refresh, 10, 12, GrantInvalidated, 0),
		}, "refresh refused", 1},
		{"issued token not found by its invalidation", []Op{
			op(InvalidateAccess, 0, 5, NotFound, 0),
		}, "no acknowledged write lost", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := Check(tc.history, time.Second)
			if len(v.Violations) != 1 {
				t.Fatalf("want one violation, got %+v", v)
			}
			got := v.Violations[0]
			if !strings.HasPrefix(got.Guarantee, tc.guarantee) || len(got.Ops) != tc.minimal {
				t.Fatalf("got %s with %d ops, want %q with %d:\n%s", got.Guarantee, len(got.Ops), tc.guarantee, tc.minimal, got)
			}
		})
	}
}

func TestCheck_StaleReadDuringARevocationIsAllowedButCounted(t *testing.T) {
	h := []Op{
		op(InvalidateAccess, 0, 100, OK, 0),
		op(Authenticate, 10, 11, Refused, 0), // a node that has applied it
		op(Authenticate, 20, 21, OK, 0),      // one that has not yet
	}
	v := Check(h, time.Second)
	if len(v.Violations) != 0 || v.StaleReads != 1 {
		t.Fatalf("want no violation and one stale read, got %+v", v)
	}
}

func TestCheck_UnexpectedAnswerIsAViolation(t *testing.T) {
	v := Check([]Op{op(Authenticate, 0, 1, Unexpected, 0)}, time.Second)
	if len(v.Violations) != 1 || !strings.Contains(v.Violations[0].Guarantee, "outside the contract") {
		t.Fatalf("got %+v", v)
	}
}

func TestLongestGap_MeasuresFromTheFaultToTheEndWithoutAnswers(t *testing.T) {
	h := []Op{
		op(Issue, 0, 100, OK, 1),
		op(Issue, 100, 400, Unavailable, 0),
		op(Issue, 400, 700, OK, 2),
		op(Issue, 700, 800, OK, 3),
	}
	if got := LongestGap(h, ms(50), ms(1000), func(Op) bool { return true }); got != ms(600) {
		t.Fatalf("longest gap %v, want 600ms", got)
	}
}
