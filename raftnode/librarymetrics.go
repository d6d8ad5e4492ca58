package raftnode

import (
	"sync"

	gometrics "github.com/hashicorp/go-metrics/compat"

	"github.com/tokend/tokend/api/metrics"
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

var (
	libraryOnce     sync.Once
	libraryRegistry *metrics.Registry
)

// LibraryMetrics returns the registry fed by the go-metrics emissions of
// hashicorp/raft and raft-boltdb (families named tokend_raft_*), installing
// its sink as go-metrics' global on the first call.
//
// The go-metrics global is process-wide, and the libraries do not say which
// Raft instance emitted a sample: every Node in the process reports into
// this one registry. A process runs one node in production, so the figures
// are that node's; tests that run several nodes in one process see their
// sum. The sink is installed once and never replaced; call LibraryMetrics
// before Open so that nothing emitted at start-up is lost. Host name
// prefixes and Go runtime metrics are off.
func LibraryMetrics() *metrics.Registry {
	libraryOnce.Do(func() {
		libraryRegistry = metrics.NewRegistry()
		conf := gometrics.DefaultConfig("")
		conf.HostName = ""
		conf.EnableHostname = false
		conf.EnableRuntimeMetrics = false
		// NewGlobal fails only if the sink's constructor does; ours cannot.
		_, _ = gometrics.NewGlobal(conf, newLibrarySink(libraryRegistry))
	})
	return libraryRegistry
}
