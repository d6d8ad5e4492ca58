package snapshot

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// FuzzReader feeds arbitrary bytes to Reader and Verify. Neither may panic,
// both must agree, every failure must be one of the package's sentinels
// (bytes.Reader has no I/O errors of its own), and a stream may be accepted
// only if it is exactly what Writer produces for its header and records:
// no mutation of a valid stream survives.
func FuzzReader(f *testing.F) {
	good := smallStream(f)
	f.Add(good)
	f.Add(encodeStream(f, 0, 0))
	f.Add(good[:len(good)/2])
	f.Add(append(bytes.Clone(good), 0))
	f.Add(append(preamble(f, Header{Records: 1}), frame(kindToken, []byte{0xC0})...))
	f.Add([]byte(magic + "\x00\x01"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		h, recs, err := readAll(data)
		vh, verr := Verify(bytes.NewReader(data))
		if (err == nil) != (verr == nil) || !sameClass(err, verr) {
			t.Fatalf("Next says %v, Verify says %v", err, verr)
		}
		if err != nil {
			if !isSentinel(err) || errors.Is(err, io.EOF) {
				t.Fatalf("error %v wraps no sentinel, or wraps io.EOF", err)
			}
			return
		}
		if h != vh {
			t.Fatalf("Next's header %+v, Verify's %+v", h, vh)
		}
		if got := rewrite(t, h, recs); !bytes.Equal(got, data) {
			t.Fatalf("accepted a stream that Writer would not produce:\n got %x\nwant %x", data, got)
		}
	})
}

// rewrite encodes recs, as raw msgpack, under h.
func rewrite(t *testing.T, h Header, recs []record) []byte {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r.Kind, msgpack.RawMessage(r.Body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
