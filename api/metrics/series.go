package metrics

import (
	"math"
	"slices"
	"sync/atomic"
)

// atomicFloat is a float64 read and updated atomically through its bits.
type atomicFloat struct{ bits atomic.Uint64 }

func (f *atomicFloat) load() float64   { return math.Float64frombits(f.bits.Load()) }
func (f *atomicFloat) store(v float64) { f.bits.Store(math.Float64bits(v)) }

func (f *atomicFloat) add(d float64) {
	for {
		old := f.bits.Load()
		if f.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Counter is a value that only goes up. Get one from a Registry; it is safe
// for concurrent use.
type Counter struct{ v atomicFloat }

// Inc adds one.
func (c *Counter) Inc() { c.v.add(1) }

// Add adds d. A negative or NaN d is ignored: a counter never goes down.
func (c *Counter) Add(d float64) {
	if d > 0 {
		c.v.add(d)
	}
}

// Gauge is a value that goes up and down. Get one from a Registry; it is
// safe for concurrent use.
type Gauge struct{ v atomicFloat }

// Set sets the gauge to v.
func (g *Gauge) Set(v float64) { g.v.store(v) }

// Add adds d, which may be negative.
func (g *Gauge) Add(d float64) { g.v.add(d) }

// Histogram counts observations in buckets with fixed upper bounds. Get one
// from a Registry; it is safe for concurrent use.
type Histogram struct {
	upper  []float64       // finite upper bounds, strictly ascending
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum    atomicFloat
}

func newHistogram(upper []float64) *Histogram {
	return &Histogram{upper: upper, counts: make([]atomic.Uint64, len(upper)+1)}
}

// Observe records v in the first bucket whose upper bound is at least v.
// NaN is ignored.
func (h *Histogram) Observe(v float64) {
	if math.IsNaN(v) {
		return
	}
	i, _ := slices.BinarySearch(h.upper, v)
	h.counts[i].Add(1)
	h.sum.add(v)
}

// snapshot returns the cumulative bucket counts (the last is the +Inf
// bucket, which is also the total count) and the sum. Observations that race
// with it may be in the counts and not yet in the sum, but the counts are
// always consistent with each other.
func (h *Histogram) snapshot() (cumulative []uint64, sum float64) {
	cumulative = make([]uint64, len(h.counts))
	var total uint64
	for i := range h.counts {
		total += h.counts[i].Load()
		cumulative[i] = total
	}
	return cumulative, h.sum.load()
}

// CounterVec is a family of counters told apart by label values.
type CounterVec struct{ f *family }

// With returns the counter for the given label values, one per label name
// in registration order, creating it at zero on first use. Call it once at
// set-up time and keep the result for hot paths. It panics if the number of
// values is wrong.
func (v *CounterVec) With(values ...string) *Counter { return v.f.with(values).(*Counter) }

// GaugeVec is a family of gauges told apart by label values.
type GaugeVec struct{ f *family }

// With returns the gauge for the label values; see CounterVec.With.
func (v *GaugeVec) With(values ...string) *Gauge { return v.f.with(values).(*Gauge) }

// HistogramVec is a family of histograms told apart by label values.
type HistogramVec struct{ f *family }

// With returns the histogram for the label values; see CounterVec.With.
func (v *HistogramVec) With(values ...string) *Histogram { return v.f.with(values).(*Histogram) }
