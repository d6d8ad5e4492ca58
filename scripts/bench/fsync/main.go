// Command fsync measures the disk under a directory as tokend's Raft log
// uses it: the latency of write+fsync of a small record appended to a file,
// and the commit rate of bbolt (the store under raft-boltdb), each one
// goroutine, one durable write at a time.
//
// Usage:
//
//	fsync [-dir DIR] [-d 2s] [-n 5000] [-json]
//
// Each measurement runs for -d or -n writes, whichever ends first, in a
// temporary directory under -dir that is removed afterwards.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.etcd.io/bbolt"
)

// figures is one measurement.
type figures struct {
	Kind   string  `json:"kind"`
	Count  int     `json:"count"`
	PerSec float64 `json:"per_s"`
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
	Max    float64 `json:"max_ms"`
}

func main() {
	dir := flag.String("dir", os.TempDir(), "directory on the disk to measure")
	d := flag.Duration("d", 2*time.Second, "duration of each measurement")
	n := flag.Int("n", 5000, "maximum writes per measurement")
	asJSON := flag.Bool("json", false, "print one JSON object per measurement")
	flag.Parse()
	tmp, err := os.MkdirTemp(*dir, "fsync-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	for _, m := range []func(string, time.Duration, int) (figures, error){fileFsync, boltCommits} {
		f, err := m(tmp, *d, *n)
		if err != nil {
			fail(err)
		}
		if *asJSON {
			json.NewEncoder(os.Stdout).Encode(f)
			continue
		}
		fmt.Printf("%-12s %6d writes  %8.1f/s  p50 %.3f ms  p99 %.3f ms  max %.3f ms\n",
			f.Kind, f.Count, f.PerSec, f.P50, f.P99, f.Max)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fsync:", err)
	os.Exit(1)
}

// fileFsync appends 256-byte records to a file, syncing after each.
func fileFsync(dir string, d time.Duration, n int) (figures, error) {
	f, err := os.OpenFile(filepath.Join(dir, "fsync.dat"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return figures{}, err
	}
	defer f.Close()
	rec := make([]byte, 256)
	return timed("write+fsync", d, n, func() error {
		if _, err := f.Write(rec); err != nil {
			return err
		}
		return f.Sync()
	})
}

// boltCommits commits one 200-byte put per bbolt transaction.
func boltCommits(dir string, d time.Duration, n int) (figures, error) {
	db, err := bbolt.Open(filepath.Join(dir, "bolt.db"), 0o600, nil)
	if err != nil {
		return figures{}, err
	}
	defer db.Close()
	val := make([]byte, 200)
	var key uint64
	return timed("bbolt-commit", d, n, func() error {
		return db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("logs"))
			if err != nil {
				return err
			}
			key++
			return b.Put(binary.BigEndian.AppendUint64(nil, key), val)
		})
	})
}

// timed calls op until d passed or n calls were made and summarizes their
// latencies.
func timed(kind string, d time.Duration, n int, op func() error) (figures, error) {
	var lat []time.Duration
	start := time.Now()
	for len(lat) < n && time.Since(start) < d {
		t := time.Now()
		if err := op(); err != nil {
			return figures{}, err
		}
		lat = append(lat, time.Since(t))
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	q := func(p float64) float64 {
		i := min(max(int(math.Ceil(p*float64(len(lat))))-1, 0), len(lat)-1)
		return float64(lat[i]) / float64(time.Millisecond)
	}
	return figures{Kind: kind, Count: len(lat), PerSec: float64(len(lat)) / elapsed.Seconds(),
		P50: q(0.5), P99: q(0.99), Max: q(1)}, nil
}
