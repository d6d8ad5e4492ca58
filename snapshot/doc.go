// Package snapshot is the versioned, checksummed, streaming container in
// which tokend stores its token state, both for Raft snapshots and for the
// operator's `tokend snapshot save|restore|inspect` files.
//
// The container is generic: it carries msgpack-encoded records tagged with a
// numeric Kind and knows nothing of what they hold. Package fsm decides the
// kinds and the record types; this package only frames, counts and checksums.
//
// # Byte layout (format version 1)
//
// All fixed-width integers are big-endian.
//
//	offset  size  field
//	0       8     magic "\x89tokend\n"
//	8       2     format version (uint16), currently 1
//	10      6+n   header frame: kind 0xFE, body = msgpack map {"index": uint, "records": uint}
//	...     6+n   record frames, exactly Header.Records of them, kind 0x00..MaxKind
//	...     6+40  trailer frame: kind 0xFF, body = record count (uint64) ‖ SHA-256 digest (32 bytes)
//
// Every frame (header, record, trailer) starts with the same 6-byte frame
// header:
//
//	kind (1) ‖ body length (uint32, 4) ‖ CRC-8 of the previous 5 bytes (1)
//
// followed by the body. Kinds 0x00 through MaxKind (0xEF) are the
// caller's; 0xF0 through 0xFF belong to the container (0xFE header, 0xFF
// trailer, the rest reserved for future container frames) and Writer.Write
// refuses them. The SHA-256 digest in the trailer covers every byte
// of the stream before the digest itself: magic, version, all frames and the
// trailer's own frame header and count. Nothing may follow the digest.
//
// # Why these choices
//
//   - The magic starts with 0x89 (not ASCII) and ends in '\n', like PNG's: a
//     file mangled by a 7-bit or line-ending-converting transfer fails at
//     once instead of parsing as something else.
//   - The version is outside msgpack so that a reader can refuse a layout it
//     does not know before it tries to parse one (ErrVersion).
//   - The SHA-256 digest is at the end because the writer streams: nothing
//     is buffered beyond one record, so the digest is known only at the end.
//     A reader therefore cannot trust any record until Next has returned
//     io.EOF; consumers build new state on the side and swap it in only then
//     (RAFT-NOTES 5, 6).
//   - The per-frame CRC-8 protects the kind and the length. Without it, a
//     flipped bit in a length would be reported as truncation (the reader
//     runs off the end of the stream) or would make the reader consume up
//     to MaxRecordSize bytes of the wrong data before the digest could
//     catch it. CRC-8 (polynomial 0x07) detects every error confined to a
//     burst of 8 bits, so any damage within one byte of a frame header is
//     reported as ErrCorrupt at that frame, for one byte per frame.
//   - Bodies are limited to MaxRecordSize (1 MiB), so a corrupt or hostile
//     length never makes the reader allocate without bound.
//
// # Errors
//
// Readers report ErrTruncated when the stream ends early (anywhere, including
// inside the magic or the trailer), ErrChecksum when the digest does not
// match, ErrCorrupt for any structural damage (bad magic, bad frame header,
// oversize record, count mismatch, trailing data) and ErrVersion for a format
// version this build does not read. Errors from the underlying io.Reader or
// io.Writer are returned wrapped but otherwise unchanged, so that a failing
// disk is not mistaken for a damaged file.
package snapshot
