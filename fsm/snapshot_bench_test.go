package fsm

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// benchState returns an FSM with n tokens of user "bench" (each with a
// refresh token when withRefresh), applied without request IDs: dedup
// records expire after two minutes and are not part of a token's cost.
func benchState(b *testing.B, n int, withRefresh bool) *FSM {
	b.Helper()
	f := benchFSM(b)
	for i := uint64(2); i < uint64(n)+2; i++ {
		c := &CreateToken{Meta: Meta{Time: t0}, Access: benchDigest('a', i), User: "bench", Realm: NativeRealm,
			Lifetime: lifetime, Client: "bench/default_native"}
		if withRefresh {
			c.Refresh = benchDigest('r', i)
		}
		if r := f.Apply(i, c); r.Status != OK {
			b.Fatalf("CreateToken: %v", r.Status)
		}
	}
	return f
}

// BenchmarkSnapshot encodes and decodes a state of 100,000 token pairs in
// memory.
func BenchmarkSnapshot(b *testing.B) {
	f := benchState(b, 100_000, true)
	var buf bytes.Buffer
	if _, err := f.Snapshot().WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var out bytes.Buffer
			out.Grow(len(data))
			if _, err := f.Snapshot().WriteTo(&out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if err := New().Restore(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMillionTokens measures issue 6's state targets at 1,000,000
// tokens: live heap per token, and the time to snapshot the state to a
// synced file and to restore it from that file. Run it with -benchtime 1x;
// it takes tens of seconds and a few hundred MB.
func BenchmarkMillionTokens(b *testing.B) {
	for _, tc := range []struct {
		name        string
		withRefresh bool
	}{{"access_only", false}, {"with_refresh", true}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				millionTokens(b, tc.withRefresh)
			}
		})
	}
}

func millionTokens(b *testing.B, withRefresh bool) {
	const n = 1_000_000
	before := liveHeap()
	f := benchState(b, n, withRefresh)
	b.ReportMetric(float64(liveHeap()-before)/n, "heap-B/token")

	path := filepath.Join(b.TempDir(), "state.snapshot")
	start := time.Now()
	file, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	size, err := f.Snapshot().WriteTo(file)
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "snapshot-s")
	b.ReportMetric(float64(size)/n, "file-B/token")

	start = time.Now()
	file, err = os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer file.Close()
	restored := New()
	if err := restored.Restore(file); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "restore-s")
	if got := restored.Counts(); got != f.Counts() {
		b.Fatalf("restored counts %+v, want %+v", got, f.Counts())
	}
	runtime.KeepAlive(f)
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
