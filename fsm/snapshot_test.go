package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/tokend/tokend/snapshot"
)

// populate fills h's FSM with users, nodes, remembered requests and n access
// tokens, every other one with a refresh token, some spent and some
// invalidated, so that every record field is exercised.
func populate(h *harness, n int) {
	h.t.Helper()
	h.mustOK(&InitCluster{UUID: "c0ffee"})
	h.mustOK(&SetNode{Meta: Meta{ID: rid(1), Time: t0}, NodeID: "n1", HTTPAddr: "10.0.0.1:9200"})
	h.mustOK(&PutUser{Meta: Meta{Time: t0}, User: User{Username: "elastic", Hash: []byte("h"), Roles: []string{"superuser"},
		Metadata: []byte(`{"_reserved":true}`), Enabled: true, Realm: ReservedRealm}})
	h.addUser("alice")
	for i := range n {
		var id [8]byte
		binary.BigEndian.PutUint64(id[:], uint64(i))
		c := &CreateToken{Meta: Meta{Time: t0 + int64(i)}, Access: DigestOf("a" + string(id[:])), User: "alice",
			Realm: NativeRealm, Lifetime: lifetime, Client: []string{"", "alice"}[i%2]}
		if i%2 == 0 {
			c.Refresh = DigestOf("r" + string(id[:]))
		}
		h.mustOK(c)
		switch i % 10 {
		case 2:
			h.apply(&Refresh{Meta: Meta{Time: t0 + int64(i)}, Presented: c.Refresh, NewAccess: DigestOf("na" + string(id[:])),
				NewRefresh: DigestOf("nr" + string(id[:])), Sealed: []byte("sealed" + string(id[:])), Lifetime: lifetime})
		case 5:
			h.apply(&Invalidate{Meta: Meta{Time: t0}, By: ByAccessToken, Token: c.Access})
		}
	}
}

func TestSnapshot_RoundTrip100kTokensGivesEqualState(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	populate(h, 60_000) // 60k access, 30k refresh, 6k refreshed pairs
	if c := h.f.Counts(); c.AccessTokens+c.RefreshTokens < 100_000 {
		t.Fatalf("counts = %+v", c)
	}
	// Stream the snapshot straight into Restore, hashing it on the way:
	// tens of megabytes in a bytes.Buffer make the race detector crawl.
	sum := sha256.New()
	pr, pw := io.Pipe()
	go func() {
		_, err := h.f.Snapshot().WriteTo(io.MultiWriter(pw, sum))
		pw.CloseWithError(err)
	}()
	g := New()
	if err := g.Restore(pr); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if g.AppliedIndex() != h.f.AppliedIndex() {
		t.Fatalf("restored index %d, want %d", g.AppliedIndex(), h.f.AppliedIndex())
	}
	if g.Counts() != h.f.Counts() {
		t.Fatalf("restored counts %+v, want %+v", g.Counts(), h.f.Counts())
	}
	// Records are written sorted, every field of every record included, so
	// equal bytes mean equal states.
	again := sha256.New()
	if _, err := g.Snapshot().WriteTo(again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sum.Sum(nil), again.Sum(nil)) {
		t.Fatal("snapshot of the restored state differs")
	}
}

func TestSnapshot_EmptyStateRoundTrips(t *testing.T) {
	b := snapshotBytes(t, New())
	g := newHarness(t)
	populate(g, 10)
	if err := g.f.Restore(bytes.NewReader(b)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if !reflect.DeepEqual(contents(g.f), contents(New())) || g.f.AppliedIndex() != 0 {
		t.Fatalf("state after restoring an empty snapshot: %+v", contents(g.f))
	}
}

func TestSnapshot_ViewIsUnaffectedByLaterApplies(t *testing.T) {
	h := newHarness(t)
	populate(h, 50)
	v := h.f.Snapshot()
	var want bytes.Buffer
	if _, err := v.WriteTo(&want); err != nil {
		t.Fatal(err)
	}
	index := v.Index()
	h.issue("late", "lateR", "alice", "", t0)
	h.mustOK(&Invalidate{Meta: Meta{Time: t0}, By: ByUser, Username: "alice"})
	h.mustOK(&PutUser{User: User{Username: "elastic", Hash: []byte("changed")}})
	h.mustOK(&SetNode{NodeID: "n1"})
	h.mustOK(&Purge{Meta: Meta{Time: t0 + 2*RefreshLifetime}})
	var got bytes.Buffer
	if _, err := v.WriteTo(&got); err != nil {
		t.Fatal(err)
	}
	if v.Index() != index || index == h.f.AppliedIndex() {
		t.Fatalf("view index %d (taken at %d), FSM at %d", v.Index(), index, h.f.AppliedIndex())
	}
	if !bytes.Equal(want.Bytes(), got.Bytes()) {
		t.Fatal("the view changed after later applies")
	}
}

func TestRestore_FailureLeavesStateIntact(t *testing.T) {
	src := newHarness(t)
	populate(src, 6)
	good := snapshotBytes(t, src.f)
	type bad struct {
		name string
		data io.Reader
	}
	cases := []bad{
		{"empty", bytes.NewReader(nil)},
		{"not a snapshot", bytes.NewReader([]byte("definitely not a snapshot, just some text"))},
		{"read error mid-stream", io.MultiReader(bytes.NewReader(good[:len(good)/2]), errReader{})},
	}
	for _, n := range []int{1, 8, len(good) / 3, len(good) / 2, len(good) - 40, len(good) - 1} {
		cases = append(cases, bad{fmt.Sprintf("truncated to %d of %d bytes", n, len(good)), bytes.NewReader(good[:n])})
	}
	for i := range good { // every single flipped byte must be caught
		b := bytes.Clone(good)
		b[i] ^= 0x20
		cases = append(cases, bad{fmt.Sprintf("byte %d flipped", i), bytes.NewReader(b)})
	}
	h := newHarness(t)
	populate(h, 5)
	before, index := contents(h.f), h.f.AppliedIndex()
	for _, tt := range cases {
		if err := h.f.Restore(tt.data); err == nil {
			t.Errorf("%s: Restore succeeded", tt.name)
			continue
		}
		assertUnchanged(t, h.f, before)
		if h.f.AppliedIndex() != index {
			t.Errorf("%s: applied index moved", tt.name)
		}
	}
}

func TestRestore_TruncatedSnapshotReportsTruncation(t *testing.T) {
	h := newHarness(t)
	populate(h, 20)
	good := snapshotBytes(t, h.f)
	err := New().Restore(bytes.NewReader(good[:len(good)/2]))
	if !errors.Is(err, snapshot.ErrTruncated) {
		t.Fatalf("error %v, want ErrTruncated", err)
	}
}

// errReader fails every read.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestRestore_RejectsRecordsViewNeverWrites(t *testing.T) {
	user := User{Username: "alice", Realm: NativeRealm}
	tests := []struct {
		name    string
		records []any // pairs of kind, value
	}{
		{"unknown kind", []any{snapshot.Kind(99), user}},
		{"kind zero", []any{snapshot.Kind(0), user}},
		{"body of the wrong shape", []any{kindAccess, "just a string"}},
		{"duplicate user", []any{kindUser, user, kindUser, user}},
		{"duplicate access token", []any{kindAccess, accessRecord{Digest: dg("a")}, kindAccess, accessRecord{Digest: dg("a")}}},
		{"duplicate refresh token", []any{kindRefresh, refreshRecord{Digest: dg("r")}, kindRefresh, refreshRecord{Digest: dg("r")}}},
		{"duplicate node", []any{kindNode, nodeRecord{ID: "n"}, kindNode, nodeRecord{ID: "n"}}},
		{"duplicate request", []any{kindDedup, dedupRecord{ID: rid(1)}, kindDedup, dedupRecord{ID: rid(1)}}},
		{"two cluster records", []any{kindCluster, clusterRecord{UUID: "a"}, kindCluster, clusterRecord{UUID: "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			w, err := snapshot.NewWriter(&b, snapshot.Header{Index: 7, Records: uint64(len(tt.records) / 2)})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(tt.records); i += 2 {
				if err := w.Write(tt.records[i].(snapshot.Kind), tt.records[i+1]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t)
			populate(h, 3)
			before := contents(h.f)
			if err := h.f.Restore(&b); !errors.Is(err, ErrSnapshotRecord) {
				t.Fatalf("Restore error %v, want ErrSnapshotRecord", err)
			}
			assertUnchanged(t, h.f, before)
		})
	}
}

func TestSnapshot_WriteToReportsWriterErrors(t *testing.T) {
	h := newHarness(t)
	populate(h, 2000)
	if _, err := h.f.Snapshot().WriteTo(&failAfter{n: 1000}); err == nil {
		t.Fatal("WriteTo succeeded on a failing writer")
	}
}

// failAfter accepts n bytes, then fails.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errors.New("disk full")
	}
	f.n -= len(p)
	return len(p), nil
}
