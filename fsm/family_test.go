package fsm

import (
	"reflect"
	"testing"
)

// TestInvalidate_ByRefreshFamilyRevokesTheWholeGrant: revoking any refresh
// token of a grant invalidates every access and refresh token of that grant
// (earlier and later generations), and nothing of another grant.
func TestInvalidate_ByRefreshFamilyRevokesTheWholeGrant(t *testing.T) {
	h := newHarness(t)
	h.issue("A0", "R0", "alice", "", t0)
	h.spend("R0", "A1", "R1", "", t0+1)
	h.issue("B0", "S0", "alice", "", t0)
	got := h.apply(&Invalidate{Meta: Meta{Time: t0 + 2}, By: ByRefreshFamily, Token: dg("R1")})
	if want := (Result{Invalidated: 4}); !reflect.DeepEqual(got, want) {
		t.Fatalf("result = %+v, want %+v", got, want)
	}
	for _, a := range []string{"A0", "A1"} {
		if !h.access(a).Invalidated {
			t.Errorf("access %s of the grant still valid", a)
		}
	}
	for _, r := range []string{"R0", "R1"} {
		if !h.refresh(r).Invalidated {
			t.Errorf("refresh %s of the grant still valid", r)
		}
	}
	if h.access("B0").Invalidated || h.refresh("S0").Invalidated {
		t.Error("another grant of the same user was invalidated")
	}
	again := h.apply(&Invalidate{Meta: Meta{Time: t0 + 3}, By: ByRefreshFamily, Token: dg("R0")})
	if want := (Result{Previously: 4}); !reflect.DeepEqual(again, want) {
		t.Fatalf("repeat result = %+v, want %+v", again, want)
	}
	before := contents(h.f)
	if got := h.apply(&Invalidate{Meta: Meta{Time: t0 + 4}, By: ByRefreshFamily, Token: dg("A0")}); got.Status != NotFound {
		t.Fatalf("access digest as family: %+v, want NotFound", got)
	}
	assertUnchanged(t, h.f, before)
}
