package fsm

import (
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
)

// Decode must not trust lengths declared inside a command: a 4 GiB string,
// byte string or map announced in a few bytes is refused as malformed after
// allocating at most a few megabytes.
func TestDecode_HugeDeclaredLengthsAllocateLittle(t *testing.T) {
	enc, err := Encode(&Refresh{})
	if err != nil {
		t.Fatal(err)
	}
	prefix := enc[:2] // type and format version
	huge := binary.BigEndian.AppendUint32(nil, 1<<32-1)
	cases := map[string][]byte{
		"bin32 field": append(append([]byte{0x81, 0xa1, 's', 0xc6}, huge...), 1, 2, 3),
		"str32 field": append(append([]byte{0x81, 0xa1, 'c', 0xdb}, huge...), 'a', 'b'),
		"map32 body":  append(append([]byte{0xdf}, huge...), 0xa1, 'c', 0xa1, 'x'),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			data := append(append([]byte{}, prefix...), body...)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Decode(data)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode: %v, want ErrMalformed", err)
			}
			if n, limit := after.TotalAlloc-before.TotalAlloc, uint64(4<<20); n > limit {
				t.Fatalf("allocated %d bytes decoding %d, want at most %d", n, len(data), limit)
			}
		})
	}
}
