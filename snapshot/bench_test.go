package snapshot

import (
	"bytes"
	"io"
	"testing"
)

const benchRecords = 100_000

// benchTokens returns the records both benchmarks use: tokens of about
// 120 bytes encoded.
func benchTokens(b *testing.B) []token {
	b.Helper()
	toks := make([]token, benchRecords)
	for i := range toks {
		toks[i] = makeToken(i)
	}
	return toks
}

func BenchmarkWrite(b *testing.B) {
	toks := benchTokens(b)
	var cw countingWriter
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cw = 0
		w, err := NewWriter(&cw, Header{Index: 1, Records: benchRecords})
		if err != nil {
			b.Fatal(err)
		}
		for i := range toks {
			if err := w.Write(kindToken, &toks[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(cw))
	b.ReportMetric(float64(cw)/benchRecords, "B/record")
}

func BenchmarkRead(b *testing.B) {
	data := benchStream(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, _, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	data := benchStream(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Verify(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func benchStream(b *testing.B) []byte {
	b.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Index: 1, Records: benchRecords})
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range benchTokens(b) {
		if err := w.Write(kindToken, &t); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// countingWriter discards what it is given and counts it.
type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
