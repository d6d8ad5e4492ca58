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

var errClosed = errors.New("snapshot: writer is closed")

// Writer streams a snapshot to an io.Writer. Only the record being written
// and one buffer of output are held in memory; the digest is computed over
// each buffer as it goes out.
//
// A Writer is not safe for concurrent use. Any error is sticky: after Write
// or Close has failed, the output is unusable and must be discarded (for a
// Raft snapshot, sink.Cancel), and every later call returns the same error.
type Writer struct {
	bw  *bufio.Writer // writes through hw
	hw  *hashingWriter
	h   hash.Hash
	hdr Header
	n   uint64 // records written

	body bytes.Buffer // the record being encoded, reused
	enc  *msgpack.Encoder
	fh   frameHeader // scratch, kept here so it does not escape per record
	err  error
}

// NewWriter writes the magic, the format version and h to w, and returns a
// Writer for exactly h.Records records. h.Version is ignored; the current
// format version is written. Output is buffered: nothing is guaranteed to
// have reached w until Close returns nil.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	h.Version = formatVersion
	sw := &Writer{h: sha256.New(), hdr: h}
	sw.hw = &hashingWriter{w: w, h: sw.h}
	sw.bw = bufio.NewWriterSize(sw.hw, bufSize)
	// Sorted map keys help make the bytes a function of the state alone, so
	// that equal states give equal digests. msgpack sorts only
	// map[string]string, map[string]bool and map[string]any; other maps
	// come out in Go's random order, so records should carry collections
	// as sorted slices. Compact ints keep small numbers small; decoding
	// into any integer type is unaffected.
	sw.enc = msgpack.NewEncoder(&sw.body)
	sw.enc.SetSortMapKeys(true)
	sw.enc.UseCompactInts(true)

	var pre [len(magic) + versionSize]byte
	copy(pre[:], magic)
	binary.BigEndian.PutUint16(pre[len(magic):], formatVersion)
	sw.write(pre[:])

	sw.body.Reset()
	if err := encodeHeader(sw.enc, h); err != nil {
		return nil, fmt.Errorf("snapshot: encoding header: %w", err)
	}
	sw.writeFrame(kindHeader, sw.body.Bytes())
	if sw.err != nil {
		return nil, sw.err
	}
	return sw, nil
}

// Write msgpack-encodes v as one record of kind k. v may be anything
// msgpack can encode, including a msgpack.RawMessage holding an already
// encoded body. k must not exceed MaxKind, the encoded body must not exceed
// MaxRecordSize bytes, and no more than Header.Records records may be
// written.
func (w *Writer) Write(k Kind, v any) error {
	if w.err != nil {
		return w.err
	}
	w.body.Reset()
	if err := w.enc.Encode(v); err != nil {
		return w.fail(fmt.Errorf("snapshot: record %d of %d: encoding kind %d: %w", w.n+1, w.hdr.Records, k, err))
	}
	err := w.WriteEncoded(k, w.body.Bytes())
	// Keep one huge record from pinning its buffer for the whole snapshot.
	if w.body.Cap() > 64<<10 {
		w.body = bytes.Buffer{}
	}
	return err
}

// WriteEncoded writes body, which the caller has msgpack-encoded, as one
// record of kind k, under the same rules as Write. It is for callers that
// encode their records faster than reflection can; the Writer does not keep
// body after it returns.
func (w *Writer) WriteEncoded(k Kind, body []byte) error {
	if w.err != nil {
		return w.err
	}
	if k > MaxKind {
		return w.fail(fmt.Errorf("snapshot: record %d: kind %#x is reserved (max %#x)", w.n+1, k, MaxKind))
	}
	if w.n >= w.hdr.Records {
		return w.fail(fmt.Errorf("%w: record %d written but header declares %d records", ErrCorrupt, w.n+1, w.hdr.Records))
	}
	if len(body) == 0 || len(body) > MaxRecordSize {
		return w.fail(fmt.Errorf("snapshot: record %d of %d: encoded size %d bytes outside 1..%d", w.n+1, w.hdr.Records, len(body), MaxRecordSize))
	}
	w.writeFrame(k, body)
	if w.err != nil {
		return w.err
	}
	w.n++
	return nil
}

// Close writes the trailer (record count and SHA-256 digest) and flushes.
// It fails, without writing the trailer, if the number of records written
// differs from Header.Records. Close does not close the underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.n != w.hdr.Records {
		return w.fail(fmt.Errorf("%w: closed after %d records but header declares %d", ErrCorrupt, w.n, w.hdr.Records))
	}
	w.fh = makeFrameHeader(kindTrailer, trailerBodySize)
	w.write(w.fh[:])
	var count [8]byte
	binary.BigEndian.PutUint64(count[:], w.n)
	w.write(count[:])
	if w.err == nil {
		// Flushing hashes everything before the digest; the digest is not
		// part of what it covers, so it goes straight to the output.
		w.ioErr(w.bw.Flush())
	}
	if w.err == nil {
		_, err := w.hw.w.Write(w.h.Sum(nil))
		w.ioErr(err)
	}
	if w.err != nil {
		return w.err
	}
	w.err = errClosed
	return nil
}

func (w *Writer) writeFrame(k Kind, body []byte) {
	w.fh = makeFrameHeader(k, uint32(len(body)))
	w.write(w.fh[:])
	w.write(body)
}

// write sends p to the buffered writer, recording the first error. The
// buffer hashes what it passes on (hashingWriter).
func (w *Writer) write(p []byte) {
	if w.err != nil {
		return
	}
	_, err := w.bw.Write(p)
	w.ioErr(err)
}

// hashingWriter hashes every byte it passes to w, so that the digest is
// computed over whole buffers rather than over each small frame part.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
}

// Write hashes p and writes it to w. hash.Hash.Write never fails.
func (hw *hashingWriter) Write(p []byte) (int, error) {
	hw.h.Write(p)
	return hw.w.Write(p)
}

func (w *Writer) ioErr(err error) {
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("snapshot: write failed after %d of %d records: %w", w.n, w.hdr.Records, err)
	}
}

func (w *Writer) fail(err error) error {
	w.err = err
	return err
}

// encodeHeader writes the header as a msgpack map with fixed key order.
// Version is not in it: it precedes the header so that a reader can refuse
// an unknown layout before parsing one.
func encodeHeader(enc *msgpack.Encoder, h Header) error {
	return errors.Join(
		enc.EncodeMapLen(2),
		enc.EncodeString(headerKeyIndex),
		enc.EncodeUint(h.Index),
		enc.EncodeString(headerKeyRecords),
		enc.EncodeUint(h.Records),
	)
}
