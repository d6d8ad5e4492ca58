// Command rawraft measures the ceiling tokend's writes are compared with:
// raw hashicorp/raft apply throughput of three instances in one process,
// talking TCP over 127.0.0.1, each on raft-boltdb/v2 with tokend's Raft
// settings (heartbeat and election 1 s, lease 500 ms, commit timeout 5 ms,
// 512-entry log cache), applying fixed-size entries to an FSM that only
// counts them. No HTTP, no encoding, no token state.
//
// Usage:
//
//	rawraft [-appliers 1,64,256] [-d 5s] [-n 1000000] [-size 200] [-dir DIR] [-json] [-pipeline=false]
//
// For each applier count, that many goroutines call Apply on the leader and
// wait for each future until -d passed or -n entries were applied. The
// three nodes' data live under -dir (default a temporary directory, removed
// afterwards), so that the disk measured is the one given. Replication is
// pipelined, hashicorp/raft's default, unless -pipeline=false: tokend
// replicates without the pipeline (raftnode.WithoutPipeline).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// config is the parsed command line.
type config struct {
	appliers []int
	d        time.Duration
	n        int
	size     int
	dir      string
	json     bool
	pipeline bool
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawraft:", err)
		os.Exit(2)
	}
	if err := runAll(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "rawraft:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("rawraft", flag.ContinueOnError)
	appliers := fs.String("appliers", "1,64,256", "comma-separated concurrent applier counts, one run each")
	fs.DurationVar(&cfg.d, "d", 5*time.Second, "duration of each run")
	fs.IntVar(&cfg.n, "n", 1_000_000, "maximum entries per run")
	fs.IntVar(&cfg.size, "size", 200, "entry size in bytes")
	fs.StringVar(&cfg.dir, "dir", "", "parent directory for the nodes' data (default a temporary one)")
	fs.BoolVar(&cfg.json, "json", false, "print one JSON object per run")
	fs.BoolVar(&cfg.pipeline, "pipeline", true, "pipelined replication, hashicorp/raft's default; false replicates as tokend does")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	for s := range strings.SplitSeq(*appliers, ",") {
		a, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || a < 1 {
			return cfg, fmt.Errorf("-appliers: %q is not a positive count", s)
		}
		cfg.appliers = append(cfg.appliers, a)
	}
	if cfg.d <= 0 || cfg.n < 1 || cfg.size < 1 {
		return cfg, errors.New("-d, -n and -size must be positive")
	}
	return cfg, nil
}

// runAll starts the cluster once and measures each applier count on it.
func runAll(cfg config) error {
	dir, err := os.MkdirTemp(cfg.dir, "rawraft-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c, err := startCluster(dir, cfg.pipeline)
	if err != nil {
		return err
	}
	defer c.shutdown()
	for _, a := range cfg.appliers {
		r := c.measure(a, cfg.d, cfg.n, cfg.size)
		if err := emit(cfg.json, r); err != nil {
			return err
		}
	}
	return nil
}

// runResult is one run's figures.
type runResult struct {
	Appliers   int     `json:"appliers"`
	EntryBytes int     `json:"entry_bytes"`
	Applied    int64   `json:"applied"`
	Errors     int64   `json:"errors"`
	Elapsed    float64 `json:"elapsed_s"`
	Throughput float64 `json:"applies_per_s"`
	P50        float64 `json:"p50_ms"`
	P99        float64 `json:"p99_ms"`
}

// emit prints one run as text or JSON.
func emit(asJSON bool, r runResult) error {
	if asJSON {
		return json.NewEncoder(os.Stdout).Encode(r)
	}
	_, err := fmt.Printf("appliers %4d  entry %dB  applied %7d  errors %d  %.2fs  %.1f applies/s  p50 %.3f ms  p99 %.3f ms\n",
		r.Appliers, r.EntryBytes, r.Applied, r.Errors, r.Elapsed, r.Throughput, r.P50, r.P99)
	return err
}
