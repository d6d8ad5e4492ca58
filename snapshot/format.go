package snapshot

import (
	"encoding/binary"
	"errors"
)

// Sentinel errors. They are always wrapped with detail (which record, what
// was expected), so compare them with errors.Is.
var (
	// ErrTruncated means the stream ended before its trailer was complete.
	// The data read so far must be discarded.
	ErrTruncated = errors.New("snapshot: truncated")
	// ErrChecksum means the stream is complete but its SHA-256 digest does
	// not match its content: some byte was changed after it was written.
	ErrChecksum = errors.New("snapshot: checksum mismatch")
	// ErrCorrupt means the stream is structurally invalid: not a snapshot,
	// a damaged frame, an oversize record, a record count that disagrees
	// with the header, or data after the trailer.
	ErrCorrupt = errors.New("snapshot: corrupt")
	// ErrVersion means the stream is a tokend snapshot in a format version
	// this build does not read (newer or older).
	ErrVersion = errors.New("snapshot: unsupported format version")
)

// Kind tags a record so that the consumer knows how to decode its body.
// Callers may use 0 through MaxKind; higher values are reserved for the
// container's own frames (header and trailer).
type Kind uint8

const (
	// MaxKind is the highest Kind a caller may write.
	MaxKind Kind = 0xEF
	// MaxRecordSize is the largest encoded record body, in bytes, that a
	// Writer accepts and a Reader reads. It bounds the reader's allocations
	// on corrupt input.
	MaxRecordSize = 1 << 20

	kindHeader  Kind = 0xFE // the header frame, right after the version
	kindTrailer Kind = 0xFF // the trailer frame, last in the stream
)

// Header describes a snapshot. It is written at the start of the stream,
// so Records must be known before the first record is written.
type Header struct {
	// Version is the container's format version. NewWriter overwrites it
	// with the current version; Reader reports the version it read.
	Version uint16
	// Index is the Raft log index the state corresponds to (0 for a state
	// that did not come from a log, such as a test fixture).
	Index uint64
	// Records is the exact number of records in the stream.
	Records uint64
}

const (
	// formatVersion is the layout this build writes and the only one it
	// reads. Bump it for any change to the layout, including new header
	// fields: the header decoder is strict.
	formatVersion uint16 = 1

	magic = "\x89tokend\n"

	versionSize     = 2
	frameHeaderSize = 6 // kind, uint32 length, CRC-8
	digestSize      = 32
	trailerBodySize = 8 + digestSize // count, SHA-256
	maxHeaderSize   = 4 << 10        // the header body is ~25 bytes today

	headerKeyIndex   = "index"
	headerKeyRecords = "records"

	bufSize = 64 << 10 // bufio size for both directions
)

// frameHeader is the fixed-size prefix of every frame.
type frameHeader [frameHeaderSize]byte

func makeFrameHeader(k Kind, n uint32) frameHeader {
	var fh frameHeader
	fh[0] = byte(k)
	binary.BigEndian.PutUint32(fh[1:5], n)
	fh[5] = crc8(fh[:5])
	return fh
}

// parse returns the frame's kind and body length, or ok=false when the
// CRC-8 does not match.
func (fh *frameHeader) parse() (k Kind, n uint32, ok bool) {
	if crc8(fh[:5]) != fh[5] {
		return 0, 0, false
	}
	return Kind(fh[0]), binary.BigEndian.Uint32(fh[1:5]), true
}

// crc8Table is CRC-8 with polynomial x^8+x^2+x+1 (0x07), MSB first. It
// detects all single-bit errors and all bursts of up to 8 bits.
var crc8Table = func() (t [256]byte) {
	for i := range t {
		c := byte(i)
		for range 8 {
			if c&0x80 != 0 {
				c = c<<1 ^ 0x07
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crc8 starts from 0xFF rather than 0 so that a run of zero bytes (a
// zero-filled block, a sparse file) is not a valid frame header.
func crc8(p []byte) byte {
	c := byte(0xFF)
	for _, b := range p {
		c = crc8Table[c^b]
	}
	return c
}
