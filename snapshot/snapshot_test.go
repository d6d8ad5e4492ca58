package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestRoundTrip_ManyRecordsOfSeveralKindsComeBackInOrder(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	data := encodeStream(t, 987654321, n)

	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := Header{Version: formatVersion, Index: 987654321, Records: uint64(n)}
	if got := r.Header(); got != want {
		t.Fatalf("Header() = %+v, want %+v", got, want)
	}
	for i := range n {
		k, body, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		wantKind, wantVal := mixedRecord(i)
		if k != wantKind {
			t.Fatalf("record %d: kind %d, want %d", i, k, wantKind)
		}
		if !decodesTo(t, body, wantVal) {
			t.Fatalf("record %d: decodes differently from %+v", i, wantVal)
		}
	}
	for range 2 { // io.EOF is sticky
		if _, _, err := r.Next(); err != io.EOF {
			t.Fatalf("Next after last record = %v, want io.EOF", err)
		}
	}
	if h, err := Verify(bytes.NewReader(data)); err != nil || h != want {
		t.Fatalf("Verify = %+v, %v; want %+v, nil", h, err, want)
	}
}

func TestRoundTrip_EmptySnapshotIsValid(t *testing.T) {
	data := encodeStream(t, 0, 0)
	h, recs, err := readAll(data)
	if err != nil || len(recs) != 0 || h.Records != 0 || h.Version != formatVersion {
		t.Fatalf("readAll = %+v, %d records, %v", h, len(recs), err)
	}
}

func TestRoundTrip_BodiesSurviveLaterReads(t *testing.T) {
	// Bodies share slabs; each must stay intact after later Next calls.
	data := encodeStream(t, 1, 5000)
	_, recs, err := readAll(data)
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		k, v := mixedRecord(i)
		if rec.Kind != k || !bytes.Equal(rec.Body, mustMsgpackSorted(t, v)) {
			t.Fatalf("record %d changed after later reads", i)
		}
	}
}

func TestWriter_SameStateGivesSameBytes(t *testing.T) {
	if a, b := encodeStream(t, 5, 300), encodeStream(t, 5, 300); !bytes.Equal(a, b) {
		t.Fatal("two encodings of the same records differ (map keys not sorted?)")
	}
}

func TestWriter_SetsCurrentVersion(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Version: 999, Records: 0})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint16(buf.Bytes()[len(magic):]); got != formatVersion {
		t.Fatalf("written version %d, want %d", got, formatVersion)
	}
}

func TestWriter_RefusesReservedKinds(t *testing.T) {
	for _, k := range []Kind{MaxKind + 1, kindHeader, kindTrailer} {
		w, err := NewWriter(io.Discard, Header{Records: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(k, 1); err == nil {
			t.Fatalf("Write(kind %#x) succeeded", k)
		}
		if err := w.Close(); err == nil {
			t.Fatal("Close after a failed Write succeeded")
		}
	}
}

func TestWriter_RecordSizeLimit(t *testing.T) {
	// A bin32 header is 5 bytes, so this body encodes to exactly the limit.
	atLimit := bytes.Repeat([]byte{0xAB}, MaxRecordSize-5)
	w, err := NewWriter(io.Discard, Header{Records: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(kindMeta, append(atLimit, 0)); err == nil {
		t.Fatal("record over MaxRecordSize accepted")
	}

	var buf bytes.Buffer
	if w, err = NewWriter(&buf, Header{Records: 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(kindMeta, atLimit); err != nil {
		t.Fatalf("record of exactly MaxRecordSize: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, recs, err := readAll(buf.Bytes())
	if err != nil || len(recs) != 1 || len(recs[0].Body) != MaxRecordSize {
		t.Fatalf("reading a MaxRecordSize record: %d records, %v", len(recs), err)
	}
}

func TestWriter_CloseFailsOnTooFewRecords(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Records: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := w.Write(kindToken, makeToken(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Close = %v, want ErrCorrupt", err)
	}
	if _, err := Verify(bytes.NewReader(buf.Bytes())); !errors.Is(err, ErrTruncated) {
		t.Fatalf("output of the failed Close verifies as %v, want ErrTruncated", err)
	}
}

func TestWriter_WriteFailsBeyondDeclaredRecords(t *testing.T) {
	w, err := NewWriter(io.Discard, Header{Records: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(kindToken, makeToken(0)); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(kindToken, makeToken(1)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("extra Write = %v, want ErrCorrupt", err)
	}
	if err := w.Close(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Close after extra Write = %v, want ErrCorrupt", err)
	}
}

func TestWriter_EncodeErrorIsReportedAndSticky(t *testing.T) {
	w, err := NewWriter(io.Discard, Header{Records: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(kindMeta, make(chan int)); err == nil {
		t.Fatal("encoding a channel succeeded")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after a failed Write succeeded")
	}
}

func TestWriter_IOErrorIsStickyAndNotASentinel(t *testing.T) {
	fw := &failAfter{n: 100}
	w, err := NewWriter(fw, Header{Records: 2000})
	if err != nil {
		t.Fatal(err) // buffered: the header fits in the buffer
	}
	var werr error
	for i := 0; i < 2000 && werr == nil; i++ {
		werr = w.Write(kindToken, makeToken(i))
	}
	if werr == nil {
		werr = w.Close()
	}
	if !errors.Is(werr, errBoom) || isSentinel(werr) {
		t.Fatalf("error = %v, want the writer's error unclassified", werr)
	}
	if err := w.Close(); !errors.Is(err, errBoom) {
		t.Fatalf("Close after I/O error = %v, want the same error", err)
	}
}

func TestWriter_CloseTwiceFails(t *testing.T) {
	w, err := NewWriter(io.Discard, Header{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Fatal("second Close succeeded")
	}
	if err := w.Write(kindMeta, 1); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

func TestReader_RejectsOtherVersions(t *testing.T) {
	data := smallStream(t)
	for _, v := range []uint16{0, formatVersion + 1, 0xFFFF} {
		bad := bytes.Clone(data)
		binary.BigEndian.PutUint16(bad[len(magic):], v)
		bad = reseal(bad) // only the version is wrong
		if _, err := NewReader(bytes.NewReader(bad)); !errors.Is(err, ErrVersion) {
			t.Errorf("version %d: NewReader = %v, want ErrVersion", v, err)
		}
		h, err := Verify(bytes.NewReader(bad))
		if !errors.Is(err, ErrVersion) || h.Version != v {
			t.Errorf("version %d: Verify = %+v, %v; want the version and ErrVersion", v, h, err)
		}
	}
}

func TestReader_IOErrorIsPassedThrough(t *testing.T) {
	data := smallStream(t)
	for _, n := range []int{5, len(data) / 2, len(data) - 1} {
		_, err := Verify(&failAfter{data: data, n: n})
		if !errors.Is(err, errBoom) || isSentinel(err) {
			t.Errorf("failing after %d bytes: %v, want the reader's error unclassified", n, err)
		}
	}
}

func TestReader_ErrorsAreSticky(t *testing.T) {
	data := smallStream(t)
	r, err := NewReader(bytes.NewReader(data[:len(data)-1]))
	if err != nil {
		t.Fatal(err)
	}
	var first error
	for first == nil {
		_, _, first = r.Next()
	}
	if _, _, err := r.Next(); err != first {
		t.Fatalf("Next after %v = %v", first, err)
	}
}

// mustMsgpackSorted encodes v as Writer does.
func mustMsgpackSorted(tb testing.TB, v any) []byte {
	tb.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// decodesTo reports whether body decodes to want, one of mixedRecord's
// value types.
func decodesTo(tb testing.TB, body []byte, want any) bool {
	tb.Helper()
	var err error
	switch want := want.(type) {
	case token:
		var got token
		err = msgpack.Unmarshal(body, &got)
		if err == nil {
			return reflect.DeepEqual(got, want)
		}
	case client:
		var got client
		err = msgpack.Unmarshal(body, &got)
		if err == nil {
			return reflect.DeepEqual(got, want)
		}
	case uint64:
		var got uint64
		err = msgpack.Unmarshal(body, &got)
		if err == nil {
			return got == want
		}
	default:
		tb.Fatalf("no decoder for %T", want)
	}
	tb.Fatalf("decode %T: %v", want, err)
	return false
}
