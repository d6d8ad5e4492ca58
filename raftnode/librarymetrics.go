package raftnode

import (
	"sync"

	gometrics "github.com/hashicorp/go-metrics/compat"
)

// Why a go-metrics sink at all (RAFT-NOTES 15 advises against one): the
// node's health (state, leader changes, last contact, apply lag, snapshot
// size, propose latency) is read from Raft's API by the node itself (see
// metrics.go), but the library's internal timings (commit time, FSM apply,
// replication and RPC latencies, bolt store writes) exist only as go-metrics
// emissions. hashicorp/raft v1.7.3 emits through go-metrics/compat, which
// without build tags is github.com/armon/go-metrics, the same module that
// raft-boltdb/v2 v2.3.1 imports directly; so one sink installed through
// compat.NewGlobal receives both, and nothing has to be pinned or replaced.
// If a later upgrade moves either library to the hashicorp module (or the
// binary is built with -tags hashicorpmetrics), that library's metrics stop
// arriving here while the node's own metrics keep working.
//
// Why a sink of our own rather than go-metrics' PrometheusSink (in
// hashicorp/go-metrics/prometheus or armon/go-metrics/prometheus): that
// sink names families by joining the key as it is (raft_commitTime, no
// tokend_ prefix), turns samples into summaries in milliseconds instead of
// histograms in seconds, and registers on prometheus' global registry by
// default; so it cannot keep the published tokend_raft_* names, units and
// types. The hashicorp one also implements the hashicorp module's
// MetricSink, which compat (armon, without build tags) does not accept.
// librarySink is the small adapter that keeps them, recording into
// client_golang's own counters, gauges and histograms.

var (
	libraryOnce sync.Once
	library     *librarySink
)

// libraryMetrics returns the collector fed by the go-metrics emissions of
// hashicorp/raft and raft-boltdb (families named tokend_raft_*), installing
// its sink as go-metrics' global on the first call.
//
// The go-metrics global is process-wide, and the libraries do not say which
// Raft instance emitted a sample: every Node in the process reports into
// this one collector, which each Node registers on its own Config.Metrics.
// A process runs one node in production, so the figures are that node's;
// tests that run several nodes in one process see their sum on every
// node's registry. The sink is installed once and never replaced; Open
// calls this before starting Raft so that nothing emitted at start-up is
// lost. Host name prefixes and Go runtime metrics are off (the Go collector
// registered by cmd/tokend covers the runtime).
func libraryMetrics() *librarySink {
	libraryOnce.Do(func() {
		library = newLibrarySink()
		conf := gometrics.DefaultConfig("")
		conf.HostName = ""
		conf.EnableHostname = false
		conf.EnableRuntimeMetrics = false
		// NewGlobal fails only if the sink's constructor does; ours cannot.
		_, _ = gometrics.NewGlobal(conf, library)
	})
	return library
}
