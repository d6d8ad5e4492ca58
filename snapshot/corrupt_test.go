package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
)

func TestReader_EveryTruncationIsErrTruncated(t *testing.T) {
	data := smallStream(t)
	for n := range len(data) {
		if _, _, err := readAll(data[:n]); !errors.Is(err, ErrTruncated) {
			t.Errorf("prefix of %d/%d bytes: Next: %v, want ErrTruncated", n, len(data), err)
		}
		if _, err := Verify(bytes.NewReader(data[:n])); !errors.Is(err, ErrTruncated) {
			t.Errorf("prefix of %d/%d bytes: Verify: %v, want ErrTruncated", n, len(data), err)
		}
	}
}

// span is a byte range of a stream and the error a damaged byte in it must
// produce.
type span struct {
	start, end int
	want       []error // any of these
	what       string
}

// layout walks a valid stream's frames and says what damage to each byte
// must be reported as.
func layout(tb testing.TB, data []byte) []span {
	tb.Helper()
	corrupt, checksum := []error{ErrCorrupt}, []error{ErrChecksum}
	spans := []span{
		{0, len(magic), corrupt, "magic"},
		{len(magic), len(magic) + versionSize, []error{ErrVersion}, "version"},
	}
	off := len(magic) + versionSize
	for off < len(data) {
		var fh frameHeader
		copy(fh[:], data[off:])
		k, n, ok := fh.parse()
		if !ok {
			tb.Fatalf("bad frame header at %d", off)
		}
		spans = append(spans, span{off, off + frameHeaderSize, corrupt, "frame header"})
		off += frameHeaderSize
		body := checksum
		if k == kindHeader {
			// A damaged header either fails to parse or announces a
			// record count that the stream then contradicts.
			body = []error{ErrCorrupt, ErrChecksum}
		}
		spans = append(spans, span{off, off + int(n), body, fmt.Sprintf("body of kind %#x", k)})
		off += int(n)
	}
	if off != len(data) {
		tb.Fatalf("frames end at %d of %d", off, len(data))
	}
	return spans
}

func TestReader_EveryFlippedBitFailsWithTheRightError(t *testing.T) {
	data := smallStream(t)
	masks := []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF}
	for _, sp := range layout(t, data) {
		for i := sp.start; i < sp.end; i++ {
			for _, m := range masks {
				bad := bytes.Clone(data)
				bad[i] ^= m
				_, _, nerr := readAll(bad)
				_, verr := Verify(bytes.NewReader(bad))
				for _, err := range []error{nerr, verr} {
					if !isAnyOf(err, sp.want) {
						t.Fatalf("byte %d (%s) ^ %#02x: %v, want one of %v", i, sp.what, m, err, sp.want)
					}
				}
				if !sameClass(nerr, verr) {
					t.Fatalf("byte %d ^ %#02x: Next says %v, Verify says %v", i, m, nerr, verr)
				}
			}
		}
	}
}

func TestReader_OversizeLengthIsCorruptWithoutAllocating(t *testing.T) {
	pre := preamble(t, Header{Records: 1})
	for _, n := range []uint32{MaxRecordSize + 1, 1 << 31, 0xFFFFFFFF} {
		fh := makeFrameHeader(kindToken, n)
		data := append(bytes.Clone(pre), fh[:]...)

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err := readAll(data)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("length %d: %v, want ErrCorrupt", n, err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Errorf("length %d: reader allocated %d bytes", n, grew)
		}
		if _, err := Verify(bytes.NewReader(data)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("length %d: Verify: %v, want ErrCorrupt", n, err)
		}
	}
}

func TestReader_TrailingDataIsCorrupt(t *testing.T) {
	data := smallStream(t)
	for name, tail := range map[string][]byte{
		"one zero byte":   {0},
		"newline":         []byte("\n"),
		"a second stream": data,
	} {
		bad := append(bytes.Clone(data), tail...)
		if _, _, err := readAll(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Next: %v, want ErrCorrupt", name, err)
		}
		if _, err := Verify(bytes.NewReader(bad)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Verify: %v, want ErrCorrupt", name, err)
		}
	}
}

// writeSkewed writes a correctly checksummed stream whose header declares
// declared records, which holds written records and whose trailer counts
// counted, something only a buggy or hostile writer produces.
func writeSkewed(t *testing.T, declared, written, counted uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Records: declared})
	if err != nil {
		t.Fatal(err)
	}
	w.hdr.Records = written
	for i := range written {
		if err := w.Write(kindToken, makeToken(int(i))); err != nil {
			t.Fatal(err)
		}
	}
	w.n = counted
	w.hdr.Records = counted
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReader_CountMismatchIsCorrupt(t *testing.T) {
	for name, data := range map[string][]byte{
		"header declares more":  writeSkewed(t, 3, 2, 2),
		"header declares fewer": writeSkewed(t, 1, 2, 2),
		"trailer counts more":   writeSkewed(t, 2, 2, 3),
		"trailer counts fewer":  writeSkewed(t, 2, 2, 1),
	} {
		if _, _, err := readAll(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Next: %v, want ErrCorrupt", name, err)
		}
		if _, err := Verify(bytes.NewReader(data)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Verify: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestReader_RecordBeyondHeaderCountFailsBeforeItIsReturned(t *testing.T) {
	r, err := NewReader(bytes.NewReader(writeSkewed(t, 1, 2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, body, err := r.Next(); !errors.Is(err, ErrCorrupt) || body != nil {
		t.Fatalf("second record = %d bytes, %v; want ErrCorrupt", len(body), err)
	}
}

func TestReader_InvalidFramesAreCorrupt(t *testing.T) {
	pre := preamble(t, Header{Records: 1})
	tok := mustMsgpack(t, makeToken(1))
	for name, tail := range map[string][]byte{
		"reserved kind":     frame(MaxKind+1, tok),
		"header kind again": frame(kindHeader, tok),
		"empty body":        frame(kindToken, nil),
		"trailer too short": frame(kindTrailer, make([]byte, trailerBodySize-1)),
		"zeroed block":      make([]byte, 4096),
	} {
		data := append(bytes.Clone(pre), tail...)
		if _, _, err := readAll(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestReader_HeaderIsParsedStrictly(t *testing.T) {
	start := []byte(magic + "\x00\x01")
	for name, body := range map[string][]byte{
		"unknown field":   mustMsgpack(t, map[string]uint64{"index": 1, "records": 0, "term": 3}),
		"missing field":   mustMsgpack(t, map[string]uint64{"index": 1}),
		"duplicate field": append([]byte{0x82}, append(mustMsgpack(t, "index"), 1, 0xA5, 'i', 'n', 'd', 'e', 'x', 2)...),
		"wrong field":     mustMsgpack(t, map[string]uint64{"index": 1, "record": 0}),
		"string value":    mustMsgpack(t, map[string]string{"index": "1", "records": "0"}),
		"not a map":       mustMsgpack(t, []uint64{1, 0}),
		"extra bytes":     append(mustMsgpack(t, map[string]uint64{"index": 1, "records": 0}), 0xC0),
		"empty":           nil,
		"cut short":       mustMsgpack(t, map[string]uint64{"index": 1, "records": 0})[:10],
	} {
		data := append(bytes.Clone(start), frame(kindHeader, body)...)
		_, err := NewReader(bytes.NewReader(data))
		if !errors.Is(err, ErrCorrupt) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: %v, want ErrCorrupt (and not io.EOF)", name, err)
		}
	}
}

func TestReader_NotASnapshot(t *testing.T) {
	for name, tc := range map[string]struct {
		data []byte
		want error
	}{
		"empty":           {nil, ErrTruncated},
		"half the magic":  {[]byte(magic[:4]), ErrTruncated},
		"text":            {[]byte("hello, this is not a snapshot\n"), ErrCorrupt},
		"gzip":            {[]byte{0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ErrCorrupt},
		"one wrong byte":  {[]byte("\x88"), ErrCorrupt},
		"zeroes":          {make([]byte, 64), ErrCorrupt},
		"magic, no frame": {[]byte(magic + "\x00\x01"), ErrTruncated},
	} {
		if _, err := NewReader(bytes.NewReader(tc.data)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestVerify_GoodAndBadStreams(t *testing.T) {
	good := encodeStream(t, 77, 1000)
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x10
	digest := bytes.Clone(good)
	digest[len(digest)-1] ^= 0x01
	for name, tc := range map[string]struct {
		data []byte
		want error
	}{
		"good":              {good, nil},
		"empty snapshot":    {encodeStream(t, 0, 0), nil},
		"truncated":         {good[:len(good)-digestSize-1], ErrTruncated},
		"no trailer":        {good[:len(good)-frameHeaderSize-trailerBodySize], ErrTruncated},
		"flipped bit":       {flipped, nil},
		"damaged digest":    {digest, ErrChecksum},
		"trailing garbage":  {append(bytes.Clone(good), "x"...), ErrCorrupt},
		"resealed mismatch": {writeSkewed(t, 5, 4, 4), ErrCorrupt},
	} {
		h, err := Verify(bytes.NewReader(tc.data))
		switch {
		case name == "flipped bit":
			if !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: %v, want ErrChecksum or ErrCorrupt", name, err)
			}
		case tc.want == nil && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
		if name == "good" && h != (Header{Version: formatVersion, Index: 77, Records: 1000}) {
			t.Errorf("good: header %+v", h)
		}
	}
}

func TestFrameHeader_ZeroesAreNotAValidFrame(t *testing.T) {
	var fh frameHeader
	if _, _, ok := fh.parse(); ok {
		t.Fatal("an all-zero frame header passes its CRC")
	}
	got := makeFrameHeader(kindToken, 1234)
	if k, n, ok := got.parse(); !ok || k != kindToken || n != 1234 {
		t.Fatalf("parse(make(%d, %d)) = %d, %d, %v", kindToken, 1234, k, n, ok)
	}
}

func isAnyOf(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// sameClass reports whether two errors wrap the same sentinel.
func sameClass(a, b error) bool {
	for _, s := range sentinels {
		if errors.Is(a, s) != errors.Is(b, s) {
			return false
		}
	}
	return true
}
