package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// This file is a small msgpack codec for the snapshot's token records, which
// are most of a snapshot: appending to a byte slice and reading from one by
// hand is several times faster than msgpack/v5's reflection and allocates
// nothing per record. It writes exactly the bytes msgpack/v5 writes with
// compact ints (see snapshot.NewWriter), so the snapshot format is unchanged.

// appendMapLen appends the header of a map of n entries.
func appendMapLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
}

// appendString appends s as a msgpack string.
func appendString(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

// appendBytes appends p as a msgpack byte string, or nil when p is nil.
func appendBytes(b, p []byte) []byte {
	if p == nil {
		return append(b, 0xc0)
	}
	switch n := len(p); {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, p...)
}

// appendUint appends n in the shortest msgpack unsigned form.
func appendUint(b []byte, n uint64) []byte {
	switch {
	case n <= math.MaxInt8:
		return append(b, byte(n))
	case n <= math.MaxUint8:
		return append(b, 0xcc, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), n)
}

// appendInt appends n in the shortest msgpack form: unsigned when n >= 0.
func appendInt(b []byte, n int64) []byte {
	switch {
	case n >= 0:
		return appendUint(b, uint64(n))
	case n >= -32:
		return append(b, byte(n))
	case n >= math.MinInt8:
		return append(b, 0xd0, byte(n))
	case n >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(n))
	case n >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
}

// appendBool appends v as a msgpack boolean.
func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

// errMsgpack reports data the token record decoder cannot read.
var errMsgpack = errors.New("malformed msgpack")

// mpReader reads msgpack values from a byte slice. The first error sticks:
// later reads return zero values, and err says what went wrong first. Byte
// and string values are views of the slice, never copies, and no declared
// length is trusted beyond the bytes that are there.
type mpReader struct {
	b   []byte
	err error
}

// fail records err (if it is the first) and returns nothing further.
func (r *mpReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{errMsgpack}, args...)...)
	}
	r.b = nil
}

// code returns the next type byte.
func (r *mpReader) code() (byte, bool) {
	if len(r.b) == 0 {
		r.fail("unexpected end of data")
		return 0, false
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, true
}

// take returns the next n bytes.
func (r *mpReader) take(n int) []byte {
	if n > len(r.b) {
		r.fail("value of %d bytes, %d left", n, len(r.b))
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// length reads a big-endian length of width bytes (1, 2 or 4).
func (r *mpReader) length(width int) int {
	p := r.take(width)
	switch len(p) {
	case 1:
		return int(p[0])
	case 2:
		return int(binary.BigEndian.Uint16(p))
	case 4:
		return int(binary.BigEndian.Uint32(p))
	}
	return 0
}

// mapLen reads a map header.
func (r *mpReader) mapLen() int {
	c, ok := r.code()
	switch {
	case !ok:
		return 0
	case c&0xf0 == 0x80:
		return int(c & 0x0f)
	case c == 0xde:
		return r.length(2)
	case c == 0xdf:
		return r.length(4)
	}
	r.fail("code %#x where a map was expected", c)
	return 0
}

// str reads a string, or nil as "", and returns a view of its bytes.
func (r *mpReader) str() []byte {
	c, ok := r.code()
	switch {
	case !ok:
		return nil
	case c&0xe0 == 0xa0:
		return r.take(int(c & 0x1f))
	case c == 0xd9:
		return r.take(r.length(1))
	case c == 0xda:
		return r.take(r.length(2))
	case c == 0xdb:
		return r.take(r.length(4))
	case c == 0xc0:
		return nil
	}
	r.fail("code %#x where a string was expected", c)
	return nil
}

// bytes reads a byte string and returns a view of it; nil reads as nil.
func (r *mpReader) bytes() []byte {
	c, ok := r.code()
	switch {
	case !ok:
		return nil
	case c == 0xc4:
		return r.take(r.length(1))
	case c == 0xc5:
		return r.take(r.length(2))
	case c == 0xc6:
		return r.take(r.length(4))
	case c == 0xc0:
		return nil
	}
	r.fail("code %#x where a byte string was expected", c)
	return nil
}

// digest reads a byte string of exactly 32 bytes.
func (r *mpReader) digest() (d Digest) {
	p := r.bytes()
	if len(p) != len(d) {
		r.fail("digest of %d bytes", len(p))
		return Digest{}
	}
	return Digest(p)
}

// int reads an integer of any msgpack width that fits an int64.
func (r *mpReader) int() int64 {
	c, ok := r.code()
	switch {
	case !ok:
		return 0
	case c <= 0x7f:
		return int64(c)
	case c >= 0xe0:
		return int64(int8(c))
	}
	var p []byte
	switch c {
	case 0xcc, 0xd0:
		p = r.take(1)
	case 0xcd, 0xd1:
		p = r.take(2)
	case 0xce, 0xd2:
		p = r.take(4)
	case 0xcf, 0xd3:
		p = r.take(8)
	default:
		r.fail("code %#x where an integer was expected", c)
		return 0
	}
	var u uint64
	for _, x := range p {
		u = u<<8 | uint64(x)
	}
	if c >= 0xd0 { // signed: extend the sign of the width read
		shift := 64 - 8*uint(len(p))
		return int64(u<<shift) >> shift
	}
	if u > math.MaxInt64 {
		r.fail("integer %d out of range", u)
		return 0
	}
	return int64(u)
}

// uint32 reads an integer that fits a uint32.
func (r *mpReader) uint32() uint32 {
	n := r.int()
	if n < 0 || n > math.MaxUint32 {
		r.fail("integer %d out of range", n)
		return 0
	}
	return uint32(n)
}

// bool reads a boolean.
func (r *mpReader) bool() bool {
	c, ok := r.code()
	switch {
	case !ok:
		return false
	case c == 0xc2:
		return false
	case c == 0xc3:
		return true
	}
	r.fail("code %#x where a boolean was expected", c)
	return false
}

// end fails unless every byte was read, and returns the first error.
func (r *mpReader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after the value", len(r.b))
	}
	return r.err
}
