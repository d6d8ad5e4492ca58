// Package metrics exposes counters, gauges and histograms in the Prometheus
// text format (version 0.0.4). That is its one job: it knows nothing of Raft
// or HTTP, and it is small on purpose instead of pulling in
// prometheus/client_golang.
//
// Families are registered once, with a fixed set of label names, on a
// Registry. Recording a value is an atomic operation on a series obtained in
// advance (Vec.With at set-up time), so hot paths build no strings and look
// nothing up. Gauges that mirror state elsewhere are set by the Registry's
// OnCollect hooks, which run at scrape time.
package metrics
