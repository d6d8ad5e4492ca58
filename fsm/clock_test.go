package fsm

import (
	"bytes"
	"testing"

	"github.com/tokend/tokend/snapshot"
)

const minute = int64(60 * 1000)

func TestClock_ACommandStampedEarlierTakesEffectAtTheLatestTime(t *testing.T) {
	h := newHarness(t)
	h.issue("a0", "r0", "alice", "", t0+10*minute) // a leader 10 min ahead
	h.issue("a1", "r1", "alice", "", t0)           // then one on time
	if got := h.f.LastTime(); got != t0+10*minute {
		t.Fatalf("LastTime %d, want %d", got, t0+10*minute)
	}
	a1 := h.access("a1")
	if a1.Created != t0+10*minute || a1.Expires != t0+10*minute+lifetime {
		t.Fatalf("token stamped earlier: created %d expires %d, want %d and %d",
			a1.Created, a1.Expires, t0+10*minute, t0+10*minute+lifetime)
	}
	if r1 := h.refresh("r1"); r1.Created != t0+10*minute {
		t.Fatalf("refresh token created %d, want %d", r1.Created, t0+10*minute)
	}
}

func TestClock_RetryAfterAFastLeaderLeftIsInTheWindow(t *testing.T) {
	h := newHarness(t)
	h.issue("a0", "r0", "alice", "", t0)
	if r := h.spend("r0", "a1", "r1", "", t0+10*minute); r.Status != OK { // spent under a fast leader
		t.Fatalf("first spend: %v", r.Status)
	}
	r := h.spend("r0", "a2", "r2", "", t0+5000) // retried 5 s later on an on-time leader
	if r.Status != Retried {
		t.Fatalf("retry: %v, want Retried", r.Status)
	}
	if a := h.access("a1"); a.Invalidated {
		t.Fatal("the retry invalidated the pair the first spend produced")
	}
}

func TestClock_APurgeStampedAnHourBackPurgesAtTheLogTime(t *testing.T) {
	h := newHarness(t)
	h.issue("old", "", "alice", "", t0)
	h.issue("new", "", "alice", "", t0+lifetime+ExpiredAccessRetention)
	// "old" is due for purging at the log's time; a purge stamped an hour
	// earlier takes effect at that time too.
	res := h.apply(&Purge{Meta: Meta{Time: t0 + lifetime + ExpiredAccessRetention - 60*minute}})
	if res.Purged != 1 {
		t.Fatalf("purged %d, want 1 (the expired token)", res.Purged)
	}
	h.access("new")
	if _, ok := h.f.AccessToken(dg("old")); ok {
		t.Fatal("the expired token is still stored")
	}
}

func TestClock_SnapshotKeepsTheLogClock(t *testing.T) {
	h := newHarness(t)
	populate(h, 10)
	h.apply(&SetNode{Meta: Meta{Time: t0 + 30*minute}, NodeID: "n2", HTTPAddr: "10.0.0.2:9200"})
	restored := New()
	if err := restored.Restore(bytes.NewReader(snapshotBytes(t, h.f))); err != nil {
		t.Fatal(err)
	}
	if got := restored.LastTime(); got != t0+30*minute {
		t.Fatalf("restored LastTime %d, want %d", got, t0+30*minute)
	}
	// A replica restored from the snapshot applies a late stamp as the
	// others do.
	for _, f := range []*FSM{h.f, restored} {
		f.Apply(100, &CreateToken{Meta: Meta{Time: t0}, Access: dg("late"), User: "alice", Realm: NativeRealm, Lifetime: lifetime})
		if a, _ := f.AccessToken(dg("late")); a.Created != t0+30*minute {
			t.Fatalf("late token created %d, want %d", a.Created, t0+30*minute)
		}
	}
}

func TestClock_SnapshotWithoutTheClockTakesItFromTheRecords(t *testing.T) {
	var b bytes.Buffer
	w, err := snapshot.NewWriter(&b, snapshot.Header{Index: 7, Records: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range []struct {
		kind snapshot.Kind
		v    any
	}{
		{kindCluster, struct {
			UUID string `msgpack:"u"`
		}{"c0ffee"}}, // as builds before the clock wrote it
		{kindAccess, accessRecord{Digest: dg("a"), Token: AccessToken{User: "alice", Realm: NativeRealm, Created: t0, Expires: t0 + lifetime}}},
		{kindDedup, dedupRecord{ID: rid(1), Applied: applied{Time: t0 + 3*minute}}},
	} {
		if err := w.Write(rec.kind, rec.v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f := New()
	if err := f.Restore(&b); err != nil {
		t.Fatal(err)
	}
	if got := f.LastTime(); got != t0+3*minute {
		t.Fatalf("LastTime %d, want %d (the latest record)", got, t0+3*minute)
	}
	if f.ClusterUUID() != "c0ffee" {
		t.Fatalf("cluster UUID %q", f.ClusterUUID())
	}
}
