package fsm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tokend/tokend/snapshot"
)

func TestCheckSnapshot_AcceptsWhatRestoreAcceptsAndReportsHeader(t *testing.T) {
	h := newHarness(t)
	populate(h, 100)
	var b bytes.Buffer
	if _, err := h.f.Snapshot().WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	hdr, err := CheckSnapshot(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatalf("CheckSnapshot: %v", err)
	}
	c := h.f.Counts()
	if hdr.Index != h.f.AppliedIndex() || hdr.Records < uint64(c.AccessTokens+c.RefreshTokens+c.Users) {
		t.Fatalf("header %+v, state at index %d with counts %+v", hdr, h.f.AppliedIndex(), c)
	}
}

// A stream whose container is intact (snapshot.Verify accepts it) but whose
// records the FSM cannot take must be refused by CheckSnapshot, as Restore
// would refuse it: this is what a restore checks before Raft commits to it.
func TestCheckSnapshot_RefusesIntactStreamWithRecordsRestoreRefuses(t *testing.T) {
	cases := map[string]struct {
		records uint64
		write   func(w *snapshot.Writer) error
	}{
		"unknown kind": {1, func(w *snapshot.Writer) error { return w.Write(0x42, "x") }},
		"undecodable body": {1, func(w *snapshot.Writer) error {
			return w.Write(kindAccess, "not an access record")
		}},
		"duplicate key": {2, func(w *snapshot.Writer) error {
			if err := w.Write(kindNode, nodeRecord{ID: "n1", Addr: "a"}); err != nil {
				return err
			}
			return w.Write(kindNode, nodeRecord{ID: "n1", Addr: "b"})
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			w, err := snapshot.NewWriter(&b, snapshot.Header{Index: 7, Records: tc.records})
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.write(w); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := snapshot.Verify(bytes.NewReader(b.Bytes())); err != nil {
				t.Fatalf("container should verify: %v", err)
			}
			if _, err := CheckSnapshot(bytes.NewReader(b.Bytes())); !errors.Is(err, ErrSnapshotRecord) {
				t.Fatalf("CheckSnapshot = %v, want ErrSnapshotRecord", err)
			}
			if err := New().Restore(bytes.NewReader(b.Bytes())); !errors.Is(err, ErrSnapshotRecord) {
				t.Fatalf("Restore = %v, want ErrSnapshotRecord", err)
			}
		})
	}
}

func TestCheckSnapshot_RefusesTruncatedStream(t *testing.T) {
	h := newHarness(t)
	populate(h, 10)
	var b bytes.Buffer
	if _, err := h.f.Snapshot().WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckSnapshot(bytes.NewReader(b.Bytes()[:b.Len()-1])); !errors.Is(err, snapshot.ErrTruncated) {
		t.Fatalf("CheckSnapshot of a truncated stream = %v, want ErrTruncated", err)
	}
}
