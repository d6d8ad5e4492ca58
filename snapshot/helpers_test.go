package snapshot

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"strconv"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// Record kinds used by the tests; the real ones belong to package fsm.
const (
	kindToken  Kind = 1
	kindClient Kind = 2
	kindMeta   Kind = 7
)

// token is shaped like an fsm token record; encoded it is about 120 bytes.
type token struct {
	ID      string   `msgpack:"id"`
	Hash    []byte   `msgpack:"h"`
	User    string   `msgpack:"u"`
	Realm   string   `msgpack:"r"`
	Created int64    `msgpack:"c"`
	Expires int64    `msgpack:"e"`
	Scopes  []string `msgpack:"s"`
}

type client struct {
	Name   string            `msgpack:"name"`
	Labels map[string]string `msgpack:"labels"` // a type msgpack sorts
}

func makeToken(i int) token {
	n := strconv.Itoa(i)
	h := sha256.Sum256([]byte(n))
	return token{
		ID:      "tok-" + n,
		Hash:    h[:],
		User:    "user-" + strconv.Itoa(i%977) + "@example.org",
		Realm:   "default_native",
		Created: 1_700_000_000_000 + int64(i),
		Expires: 1_700_001_200_000 + int64(i),
		Scopes:  []string{"read", "write"},
	}
}

// record is a decoded record as the tests compare it.
type record struct {
	Kind Kind
	Body []byte
}

// mixedRecord returns the i-th record of the tests' canonical mixed stream:
// mostly tokens, some clients, an occasional bare integer.
func mixedRecord(i int) (Kind, any) {
	switch {
	case i%50 == 0:
		return kindMeta, uint64(i) * 7919
	case i%10 == 0:
		n := strconv.Itoa(i)
		return kindClient, client{Name: "c" + n, Labels: map[string]string{"z": n, "a": "1", "m": "-" + n, "q": "", "b": n + n}}
	default:
		return kindToken, makeToken(i)
	}
}

// encodeStream writes n mixed records and returns the stream.
func encodeStream(tb testing.TB, index uint64, n int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Index: index, Records: uint64(n)})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		k, v := mixedRecord(i)
		if err := w.Write(k, v); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// smallStream is the stream the exhaustive corruption tests walk: a few
// records of several kinds, a couple of hundred bytes.
func smallStream(tb testing.TB) []byte {
	tb.Helper()
	return encodeStream(tb, 42, 4)
}

// readAll reads a stream to its end with NewReader and Next.
func readAll(data []byte) (Header, []record, error) {
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return Header{}, nil, err
	}
	var recs []record
	for {
		k, body, err := r.Next()
		if err == io.EOF {
			return r.Header(), recs, nil
		}
		if err != nil {
			return r.Header(), recs, err
		}
		recs = append(recs, record{k, body})
	}
}

// reseal recomputes the trailing digest, so that tests can build streams
// whose only fault is the one they mean to test.
func reseal(data []byte) []byte {
	out := bytes.Clone(data)
	sum := sha256.Sum256(out[:len(out)-digestSize])
	copy(out[len(out)-digestSize:], sum[:])
	return out
}

// preamble returns magic, version and header frame for h, as NewWriter
// writes them.
func preamble(tb testing.TB, h Header) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h)
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.bw.Flush(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// frame returns a raw frame with a valid frame header.
func frame(k Kind, body []byte) []byte {
	fh := makeFrameHeader(k, uint32(len(body)))
	return append(fh[:], body...)
}

func mustMsgpack(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// sentinels lists every error the package reports about a stream's content.
var sentinels = []error{ErrTruncated, ErrChecksum, ErrCorrupt, ErrVersion}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// failAfter is an io.Reader / io.Writer that fails with errBoom after n
// bytes.
type failAfter struct {
	data []byte // for reading
	n    int
}

var errBoom = errors.New("boom: disk on fire")

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 || len(f.data) == 0 {
		return 0, errBoom
	}
	p = p[:min(len(p), f.n, len(f.data))]
	c := copy(p, f.data)
	f.data, f.n = f.data[c:], f.n-c
	return c, nil
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		c := max(f.n, 0)
		f.n = 0
		return c, errBoom
	}
	f.n -= len(p)
	return len(p), nil
}
