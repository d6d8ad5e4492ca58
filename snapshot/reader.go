package snapshot

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/vmihailenco/msgpack/v5"
)

// slabSize is the size of the blocks that small record bodies are carved
// from, so that reading 100k small records costs a few hundred allocations
// rather than 100k. Bodies larger than slabSize/8 get their own allocation.
const slabSize = 64 << 10

// Reader reads a snapshot written by Writer, checking it as it goes.
//
// Records are returned before the stream's digest can be checked, so
// nothing read is trustworthy until Next has returned io.EOF: build the new
// state on the side and adopt it only then. A Reader is not safe for
// concurrent use.
type Reader struct {
	br   *bufio.Reader
	h    hash.Hash
	hdr  Header
	n    uint64 // records read
	err  error  // sticky; io.EOF once the trailer has been verified
	slab []byte
	fh   frameHeader
}

// NewReader reads and checks the magic, the format version and the header.
// It returns ErrVersion for a format version this build does not read,
// ErrCorrupt if r does not hold a tokend snapshot and ErrTruncated if it
// ends first. Reads are buffered, so the Reader may consume bytes of r
// beyond the snapshot; it reports them as ErrCorrupt.
func NewReader(r io.Reader) (*Reader, error) {
	sr, err := newReader(r)
	if err != nil {
		return nil, err
	}
	return sr, nil
}

// newReader is NewReader that also returns the Reader on failure, so that
// Verify can report whatever header it managed to read.
func newReader(r io.Reader) (*Reader, error) {
	sr := &Reader{br: bufio.NewReaderSize(r, bufSize), h: sha256.New()}
	if err := sr.readPreamble(); err != nil {
		return sr, sr.fail(err)
	}
	if err := sr.readHeader(); err != nil {
		return sr, sr.fail(err)
	}
	return sr, nil
}

// Header returns the stream's header. Like the records, it is not verified
// until Next has returned io.EOF.
func (r *Reader) Header() Header { return r.hdr }

// Next returns the next record's kind and msgpack body. The body is the
// caller's to keep; the Reader never writes to it again.
//
// After the last record, Next reads the trailer and returns io.EOF only if
// the record count matches both the trailer and the header, the SHA-256
// digest matches, and nothing follows the trailer. Any other outcome is an
// error wrapping ErrTruncated, ErrChecksum or ErrCorrupt, or an I/O error
// from the underlying reader. Errors, and io.EOF, are sticky.
func (r *Reader) Next() (Kind, []byte, error) {
	return r.next(false)
}

// Verify reads a whole snapshot from r and checks its structure, record
// count and digest without decoding the records. It returns the header and
// nil only if a Reader would reach io.EOF on the same stream. On failure it
// returns the same errors as NewReader and Next, along with as much of the
// header as it read (unverified; zero if it got no further than the
// version).
func Verify(r io.Reader) (Header, error) {
	sr, err := newReader(r)
	for err == nil {
		_, _, err = sr.next(true)
	}
	if err == io.EOF {
		err = nil
	}
	return sr.hdr, err
}

// next reads one frame. With skip, record bodies are hashed straight out
// of the read buffer and not returned.
func (r *Reader) next(skip bool) (Kind, []byte, error) {
	if r.err != nil {
		return 0, nil, r.err
	}
	if k, body, ok := r.nextBuffered(skip); ok {
		return k, body, nil
	}
	if err := r.readFull(r.fh[:]); err != nil {
		return 0, nil, r.fail(r.readErr(err, "after record %d of %d: expected a record or the trailer", r.n, r.hdr.Records))
	}
	k, n, ok := r.fh.parse()
	switch {
	case !ok:
		return 0, nil, r.fail(fmt.Errorf("%w: record %d of %d: frame header checksum mismatch", ErrCorrupt, r.n+1, r.hdr.Records))
	case k == kindTrailer:
		if err := r.readTrailer(n); err != nil {
			return 0, nil, r.fail(err)
		}
		return 0, nil, r.fail(io.EOF)
	case k > MaxKind:
		return 0, nil, r.fail(fmt.Errorf("%w: record %d of %d: reserved kind %#x", ErrCorrupt, r.n+1, r.hdr.Records, k))
	case r.n >= r.hdr.Records:
		return 0, nil, r.fail(fmt.Errorf("%w: record %d found but header declares %d records", ErrCorrupt, r.n+1, r.hdr.Records))
	case n == 0 || n > MaxRecordSize:
		return 0, nil, r.fail(fmt.Errorf("%w: record %d of %d: length %d outside 1..%d", ErrCorrupt, r.n+1, r.hdr.Records, n, MaxRecordSize))
	}
	var body []byte
	var err error
	if skip {
		err = r.skip(int(n))
	} else {
		body = r.alloc(int(n))
		err = r.readFull(body)
	}
	if err != nil {
		return 0, nil, r.fail(r.readErr(err, "record %d of %d: body of %d bytes", r.n+1, r.hdr.Records, n))
	}
	r.n++
	return k, body, nil
}

// nextBuffered is next's fast path for the common case, a valid record
// frame that is already whole in the read buffer: it hashes the frame in one
// call and copies the body once. It returns ok=false, having consumed
// nothing, for anything else (the trailer, a damaged or oversize frame, the
// end of the buffer), which next then reads and reports the slow way.
func (r *Reader) nextBuffered(skip bool) (Kind, []byte, bool) {
	p, _ := r.br.Peek(frameHeaderSize)
	if len(p) < frameHeaderSize {
		return 0, nil, false
	}
	k, n, ok := (*frameHeader)(p).parse()
	if !ok || k > MaxKind || r.n >= r.hdr.Records || n == 0 || int(n) > r.br.Size()-frameHeaderSize {
		return 0, nil, false
	}
	p, _ = r.br.Peek(frameHeaderSize + int(n))
	if len(p) < frameHeaderSize+int(n) {
		return 0, nil, false
	}
	r.h.Write(p)
	var body []byte
	if !skip {
		body = r.alloc(int(n))
		copy(body, p[frameHeaderSize:])
	}
	_, _ = r.br.Discard(len(p)) // cannot fail: p is buffered
	r.n++
	return k, body, true
}

// readPreamble reads the magic and the format version.
func (r *Reader) readPreamble() error {
	var pre [len(magic) + versionSize]byte
	got, err := io.ReadFull(r.br, pre[:])
	// Judge the magic on whatever arrived, so that a short non-snapshot
	// file is reported as "not a snapshot" rather than as truncated.
	if m := min(got, len(magic)); string(pre[:m]) != magic[:m] {
		return fmt.Errorf("%w: not a tokend snapshot (starts with %q)", ErrCorrupt, pre[:m])
	}
	if err != nil {
		return r.readErr(err, "magic and version: got %d of %d bytes", got, len(pre))
	}
	r.h.Write(pre[:])
	r.hdr.Version = binary.BigEndian.Uint16(pre[len(magic):])
	if r.hdr.Version != formatVersion {
		return fmt.Errorf("%w: stream has version %d, this build reads version %d", ErrVersion, r.hdr.Version, formatVersion)
	}
	return nil
}

// readHeader reads the header frame that follows the version.
func (r *Reader) readHeader() error {
	if err := r.readFull(r.fh[:]); err != nil {
		return r.readErr(err, "header frame")
	}
	k, n, ok := r.fh.parse()
	switch {
	case !ok:
		return fmt.Errorf("%w: header: frame header checksum mismatch", ErrCorrupt)
	case k != kindHeader:
		return fmt.Errorf("%w: header: found frame kind %#x", ErrCorrupt, k)
	case n == 0 || n > maxHeaderSize:
		return fmt.Errorf("%w: header: length %d outside 1..%d", ErrCorrupt, n, maxHeaderSize)
	}
	body := make([]byte, n)
	if err := r.readFull(body); err != nil {
		return r.readErr(err, "header body of %d bytes", n)
	}
	index, records, err := decodeHeader(body)
	if err != nil {
		return fmt.Errorf("%w: header: %v", ErrCorrupt, err) // %v: a msgpack io.EOF must not look like end of stream
	}
	r.hdr.Index, r.hdr.Records = index, records
	return nil
}

// readTrailer reads the trailer's body (its frame header has been read) and
// checks digest, counts and end of stream, in that order: a damaged byte
// anywhere is reported as ErrChecksum before any count comparison.
func (r *Reader) readTrailer(n uint32) error {
	if n != trailerBodySize {
		return fmt.Errorf("%w: trailer after record %d: length %d, want %d", ErrCorrupt, r.n, n, trailerBodySize)
	}
	var count [8]byte
	if err := r.readFull(count[:]); err != nil {
		return r.readErr(err, "trailer record count")
	}
	var sum, stored [digestSize]byte
	r.h.Sum(sum[:0])
	if _, err := io.ReadFull(r.br, stored[:]); err != nil {
		return r.readErr(err, "trailer digest")
	}
	if sum != stored {
		return fmt.Errorf("%w: after %d records: stored SHA-256 %x, computed %x", ErrChecksum, r.n, stored[:8], sum[:8])
	}
	if c := binary.BigEndian.Uint64(count[:]); c != r.n {
		return fmt.Errorf("%w: trailer counts %d records, stream holds %d", ErrCorrupt, c, r.n)
	}
	if r.n != r.hdr.Records {
		return fmt.Errorf("%w: stream holds %d records but header declares %d", ErrCorrupt, r.n, r.hdr.Records)
	}
	switch _, err := r.br.ReadByte(); {
	case err == nil:
		return fmt.Errorf("%w: data after the trailer", ErrCorrupt)
	case err != io.EOF:
		return fmt.Errorf("snapshot: reading past the trailer: %w", err)
	}
	return nil
}

// readFull fills p from the stream and hashes what it read.
func (r *Reader) readFull(p []byte) error {
	got, err := io.ReadFull(r.br, p)
	r.h.Write(p[:got])
	return err
}

// skip hashes and discards n bytes without copying them.
func (r *Reader) skip(n int) error {
	for n > 0 {
		p, err := r.br.Peek(min(n, r.br.Size()))
		r.h.Write(p)
		_, _ = r.br.Discard(len(p)) // cannot fail: p is already buffered
		n -= len(p)
		if err != nil && n > 0 {
			return err
		}
	}
	return nil
}

// alloc returns a zeroed slice of n bytes that no other record shares.
func (r *Reader) alloc(n int) []byte {
	if n > slabSize/8 {
		return make([]byte, n)
	}
	if len(r.slab) < n {
		r.slab = make([]byte, slabSize)
	}
	b := r.slab[:n:n]
	r.slab = r.slab[n:]
	return b
}

// readErr classifies a read error: the stream ending early is ErrTruncated,
// anything else is the underlying reader's error, passed through.
func (r *Reader) readErr(err error, format string, args ...any) error {
	where := fmt.Sprintf(format, args...)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s", ErrTruncated, where)
	}
	return fmt.Errorf("snapshot: reading %s: %w", where, err)
}

func (r *Reader) fail(err error) error {
	r.err = err
	return err
}

// decodeHeader parses the header body strictly: exactly the two known
// keys, once each, and nothing after them. A new field means a new format
// version.
func decodeHeader(body []byte) (index, records uint64, err error) {
	br := bytes.NewReader(body)
	dec := msgpack.NewDecoder(br)
	n, err := dec.DecodeMapLen()
	if err != nil {
		return 0, 0, err
	}
	if n != 2 {
		return 0, 0, fmt.Errorf("map of %d fields, want 2", n)
	}
	var seen [2]bool
	for range n {
		key, err := dec.DecodeString()
		if err != nil {
			return 0, 0, err
		}
		var dst *uint64
		var i int
		switch key {
		case headerKeyIndex:
			dst, i = &index, 0
		case headerKeyRecords:
			dst, i = &records, 1
		default:
			return 0, 0, fmt.Errorf("unknown field %q", key)
		}
		if seen[i] {
			return 0, 0, fmt.Errorf("duplicate field %q", key)
		}
		seen[i] = true
		if *dst, err = dec.DecodeUint64(); err != nil {
			return 0, 0, fmt.Errorf("field %q: %w", key, err)
		}
	}
	if br.Len() != 0 {
		return 0, 0, fmt.Errorf("%d bytes after the fields", br.Len())
	}
	return index, records, nil
}
