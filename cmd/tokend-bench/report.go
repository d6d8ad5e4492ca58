package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// percentile is the nearest-rank p-th percentile (0 < p <= 100) of sorted;
// zero for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// opSummary is one operation's printed figures; latencies in milliseconds.
type opSummary struct {
	Requests        int     `json:"requests"`
	Non2xx          int     `json:"errors_non2xx"`
	TransportErrors int     `json:"errors_transport"`
	Throughput      float64 `json:"throughput_rps"`
	P50             float64 `json:"p50_ms"`
	P90             float64 `json:"p90_ms"`
	P99             float64 `json:"p99_ms"`
	Max             float64 `json:"max_ms"`
}

// summary is the printed result.
type summary struct {
	Targets        []string             `json:"targets"`
	Mix            map[string]int       `json:"mix"`
	Concurrency    int                  `json:"concurrency"`
	RequestLimit   int                  `json:"request_limit"`
	DurationLimit  float64              `json:"duration_limit_s"`
	ElapsedSeconds float64              `json:"elapsed_s"`
	Requests       int                  `json:"requests"`
	Throughput     float64              `json:"throughput_rps"`
	Operations     map[string]opSummary `json:"operations"`
	FirstNon2xx    string               `json:"first_non2xx,omitempty"`
	FirstTransport string               `json:"first_transport_error,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rate is n per second of elapsed, zero when no time passed.
func rate(n int, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return float64(n) / elapsed.Seconds()
}

// summarize turns a result into the printed figures; operations that sent
// nothing are left out.
func summarize(cfg config, res result) summary {
	s := summary{
		Targets: cfg.targets, Mix: map[string]int{}, Concurrency: cfg.c,
		RequestLimit: cfg.n, DurationLimit: cfg.d.Seconds(),
		ElapsedSeconds: res.elapsed.Seconds(), Requests: res.requests(),
		Throughput:  rate(res.requests(), res.elapsed),
		Operations:  map[string]opSummary{},
		FirstNon2xx: res.firstNon2xx, FirstTransport: res.firstErr,
	}
	for _, w := range cfg.mix {
		s.Mix[w.op.String()] = w.weight
	}
	for o, t := range res.ops {
		if len(t.latencies) == 0 {
			continue
		}
		s.Operations[op(o).String()] = opSummary{
			Requests: len(t.latencies), Non2xx: t.non2xx, TransportErrors: t.transport,
			Throughput: rate(len(t.latencies), res.elapsed),
			P50:        ms(percentile(t.latencies, 50)),
			P90:        ms(percentile(t.latencies, 90)),
			P99:        ms(percentile(t.latencies, 99)),
			Max:        ms(percentile(t.latencies, 100)),
		}
	}
	return s
}

// report prints the summary as text or JSON.
func report(w io.Writer, cfg config, res result) error {
	s := summarize(cfg, res)
	if cfg.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "targets      %s\nconcurrency  %d\nelapsed      %.3fs (limits %d requests, %v)\n"+
		"requests     %d\nthroughput   %.1f req/s\n\n",
		strings.Join(s.Targets, ","), s.Concurrency, s.ElapsedSeconds, cfg.n, cfg.d, s.Requests, s.Throughput)
	fmt.Fprintf(&b, "%-19s %9s %10s %8s %9s %9s %9s %9s\n",
		"operation", "requests", "req/s", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms")
	for o := range numOps {
		f, ok := s.Operations[o.String()]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "%-19s %9d %10.1f %8d %9.3f %9.3f %9.3f %9.3f\n", o, f.Requests, f.Throughput,
			f.Non2xx+f.TransportErrors, f.P50, f.P90, f.P99, f.Max)
	}
	if s.FirstNon2xx != "" {
		fmt.Fprintf(&b, "first non-2xx    %s\n", s.FirstNon2xx)
	}
	if s.FirstTransport != "" {
		fmt.Fprintf(&b, "first transport  %s\n", s.FirstTransport)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
