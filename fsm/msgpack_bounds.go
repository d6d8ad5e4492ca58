package fsm

import (
	"encoding/binary"
	"errors"

	"github.com/vmihailenco/msgpack/v5"
)

// errLength marks msgpack data that declares a string, byte string,
// extension or container larger than the data that holds it.
var errLength = errors.New("msgpack: declared length exceeds the data")

// unmarshal is msgpack.Unmarshal for data that may be hostile: msgpack/v5
// allocates a byte string's declared length (up to 4 GiB) before reading
// it, so every declared length is first checked against len(data).
func unmarshal(data []byte, v any) error {
	if err := checkLengths(data); err != nil {
		return err
	}
	return msgpack.Unmarshal(data, v)
}

// checkLengths walks the first msgpack value in b without allocating and
// fails if any length or element count it declares cannot fit in b.
// Truncation and invalid codes are left for the decoder to report.
func checkLengths(b []byte) error {
	pending := 1 // values still to read
	for pending > 0 && len(b) > 0 {
		pending--
		c := b[0]
		b = b[1:]
		size, elems, lenBytes := itemShape(c)
		if lenBytes > len(b) {
			return nil
		}
		n := 0
		switch lenBytes {
		case 1:
			n = int(b[0])
		case 2:
			n = int(binary.BigEndian.Uint16(b))
		case 4:
			n = int(binary.BigEndian.Uint32(b))
		}
		b = b[lenBytes:]
		if elems != 0 { // a container: every pending value needs a byte
			if elems > 0 {
				pending += n * elems
			} else {
				pending += size
			}
			if pending > len(b) {
				return errLength
			}
			continue
		}
		n += size
		if n > len(b) {
			return errLength
		}
		b = b[n:]
	}
	return nil
}

// itemShape describes the item that starts with code c: size is its fixed
// payload in bytes (or, when elems < 0, the entry count of a fix container);
// lenBytes is the width of its declared length or count; elems > 0 says the
// declared count is of elements, elems per entry.
func itemShape(c byte) (size, elems, lenBytes int) {
	switch {
	case c <= 0x7f || c >= 0xe0:
		return 0, 0, 0
	case c <= 0x8f:
		return int(c&0x0f) * 2, -1, 0
	case c <= 0x9f:
		return int(c & 0x0f), -1, 0
	case c <= 0xbf:
		return int(c & 0x1f), 0, 0
	}
	switch c {
	case 0xc4, 0xd9:
		return 0, 0, 1
	case 0xc5, 0xda:
		return 0, 0, 2
	case 0xc6, 0xdb:
		return 0, 0, 4
	case 0xc7:
		return 1, 0, 1
	case 0xc8:
		return 1, 0, 2
	case 0xc9:
		return 1, 0, 4
	case 0xca, 0xce, 0xd2:
		return 4, 0, 0
	case 0xcb, 0xcf, 0xd3:
		return 8, 0, 0
	case 0xcc, 0xd0:
		return 1, 0, 0
	case 0xcd, 0xd1:
		return 2, 0, 0
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return 1 + 1<<(c-0xd4), 0, 0
	case 0xdc:
		return 0, 1, 2
	case 0xdd:
		return 0, 1, 4
	case 0xde:
		return 0, 2, 2
	case 0xdf:
		return 0, 2, 4
	}
	return 0, 0, 0 // nil, booleans and the unused 0xc1
}
