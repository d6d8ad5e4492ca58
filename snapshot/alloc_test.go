package snapshot

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
)

// allocatedBy returns the bytes f allocates on the heap.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A frame may declare a length the stream does not hold: the reader refuses
// lengths above MaxRecordSize outright and never allocates more than one
// record's worth for a truncated body.
func TestReader_DeclaredLengthBoundsAllocation(t *testing.T) {
	cases := []struct {
		name   string
		length uint32
		want   error
	}{
		{"above the limit", 1<<32 - 1, ErrCorrupt},
		{"at the limit, body missing", MaxRecordSize, ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fh := makeFrameHeader(kindToken, c.length)
			data := append(preamble(t, Header{Records: 1}), fh[:]...)
			data = append(data, 0x80, 0x80, 0x80)
			var err error
			n := allocatedBy(func() {
				r, rerr := NewReader(bytes.NewReader(data))
				if rerr != nil {
					err = rerr
					return
				}
				_, _, err = r.Next()
			})
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if limit := uint64(2 * MaxRecordSize); n > limit {
				t.Fatalf("allocated %d bytes for a %d-byte stream, want at most %d", n, len(data), limit)
			}
		})
	}
}
