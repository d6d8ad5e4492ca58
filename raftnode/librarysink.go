package raftnode

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	gometrics "github.com/hashicorp/go-metrics/compat"
	"github.com/prometheus/client_golang/prometheus"
)

// sampleKind is the go-metrics call a value arrived through.
type sampleKind byte

const (
	kindCounter sampleKind = iota + 1
	kindGauge
	kindSample
)

// Bucket layouts of the histograms the sink keeps for go-metrics samples.
var (
	timeBuckets  = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	countBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}
	byteBuckets  = []float64{64, 256, 1024, 4096, 16384, 65536, 262144, 1 << 20, 4 << 20}
	rateBuckets  = []float64{100, 1000, 10000, 100000, 1e6, 1e7}
	ratioBuckets = []float64{.1, .2, .3, .4, .5, .6, .7, .8, .9, 1}
)

// sampleUnits lists the go-metrics samples that are not timings in
// milliseconds; every other sample is one (MeasureSince and raft's own
// millisecond samples) and becomes a histogram in seconds.
var sampleUnits = map[string]struct {
	suffix  string
	buckets []float64
}{
	"raft.fsm.applyBatchNum":      {"_entries", countBuckets},
	"raft.boltdb.logsPerBatch":    {"_entries", countBuckets},
	"raft.boltdb.logSize":         {"_bytes", byteBuckets},
	"raft.boltdb.logBatchSize":    {"_bytes", byteBuckets},
	"raft.boltdb.writeCapacity":   {"_entries_per_second", rateBuckets},
	"raft.thread.main.saturation": {"_ratio", ratioBuckets},
	"raft.thread.fsm.saturation":  {"_ratio", ratioBuckets},
}

// millisecondGauges are the go-metrics gauges that hold milliseconds; they
// are exposed in seconds.
var millisecondGauges = map[string]bool{
	"raft.leader.oldestLogAge":     true,
	"raft.fsm.lastRestoreDuration": true,
}

// librarySink is a go-metrics MetricSink that records into client_golang
// metrics, and the prometheus.Collector that exposes them: counters as
// counters (name_total), gauges and EmitKey as gauges, samples as
// histograms. A go-metrics key such as [raft replication appendEntries rpc]
// becomes tokend_raft_replication_append_entries_rpc_seconds; label names
// are snake-cased too, and label values that are not UTF-8 have the bad
// bytes replaced.
//
// Recording looks the series up in a copy-on-write map under a key built in
// a stack buffer, so the common path takes no lock and allocates nothing.
// A key whose name or labels clash with an earlier one (a different kind,
// different label names) is counted in tokend_raft_sink_dropped_total
// instead of being recorded.
//
// Its families appear as the libraries first emit them, so as a collector
// it is unchecked: Describe sends nothing, and a registry takes its word
// that the tokend_raft_ prefix is its own.
type librarySink struct {
	dropped prometheus.Counter
	series  atomic.Pointer[map[string]*sinkSeries]

	mu       sync.Mutex             // serialises creating series
	families map[string]*sinkFamily // by metric name
}

// droppedName is the family the sink counts dropped samples in.
const droppedName = "tokend_raft_sink_dropped_total"

// sinkSeries is one recorded series: the metric of its family's kind. A key
// that was dropped maps to a nil *sinkSeries.
type sinkSeries struct {
	counter   prometheus.Counter
	gauge     prometheus.Gauge
	histogram prometheus.Observer
	scale     float64 // multiplies incoming values (milliseconds to seconds)
}

// sinkFamily is a family the sink created.
type sinkFamily struct {
	kind   sampleKind // 0 for droppedName, which no key may resolve to
	labels []string
	scale  float64
	vec    prometheus.Collector // a CounterVec, GaugeVec or HistogramVec, or dropped
}

var (
	_ gometrics.MetricSink = (*librarySink)(nil)
	_ prometheus.Collector = (*librarySink)(nil)
)

func newLibrarySink() *librarySink {
	dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: droppedName,
		Help: "go-metrics samples from hashicorp/raft or raft-boltdb not recorded because their name or labels clash with an earlier one."})
	s := &librarySink{dropped: dropped, families: map[string]*sinkFamily{droppedName: {vec: dropped}}}
	empty := map[string]*sinkSeries{}
	s.series.Store(&empty)
	return s
}

// Describe sends nothing: the sink is an unchecked collector.
func (s *librarySink) Describe(chan<- *prometheus.Desc) {}

// Collect sends every series recorded so far and the dropped count.
func (s *librarySink) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	vecs := make([]prometheus.Collector, 0, len(s.families))
	for _, f := range s.families {
		vecs = append(vecs, f.vec)
	}
	s.mu.Unlock()
	for _, v := range vecs {
		v.Collect(ch)
	}
}

// SetGauge records a gauge.
func (s *librarySink) SetGauge(key []string, val float32) { s.SetGaugeWithLabels(key, val, nil) }

// SetGaugeWithLabels records a gauge.
func (s *librarySink) SetGaugeWithLabels(key []string, val float32, labels []gometrics.Label) {
	if se := s.lookup(kindGauge, key, labels); se != nil {
		se.gauge.Set(float64(val) * se.scale)
	}
}

// EmitKey records a key/value pair as a gauge.
func (s *librarySink) EmitKey(key []string, val float32) { s.SetGaugeWithLabels(key, val, nil) }

// IncrCounter adds to a counter.
func (s *librarySink) IncrCounter(key []string, val float32) { s.IncrCounterWithLabels(key, val, nil) }

// IncrCounterWithLabels adds to a counter. A value that is not positive is
// ignored: a counter never goes down (and client_golang's would panic).
func (s *librarySink) IncrCounterWithLabels(key []string, val float32, labels []gometrics.Label) {
	if se := s.lookup(kindCounter, key, labels); se != nil && val > 0 {
		se.counter.Add(float64(val))
	}
}

// AddSample observes a sample in a histogram.
func (s *librarySink) AddSample(key []string, val float32) { s.AddSampleWithLabels(key, val, nil) }

// AddSampleWithLabels observes a sample in a histogram; NaN is ignored.
func (s *librarySink) AddSampleWithLabels(key []string, val float32, labels []gometrics.Label) {
	if se := s.lookup(kindSample, key, labels); se != nil && !math.IsNaN(float64(val)) {
		se.histogram.Observe(float64(val) * se.scale)
	}
}

// lookup returns the series for a key and labels, creating it on first
// use, or nil (counted as dropped) when it clashes with an existing family.
func (s *librarySink) lookup(k sampleKind, key []string, labels []gometrics.Label) *sinkSeries {
	var buf [192]byte
	b := append(buf[:0], byte(k))
	for _, part := range key {
		b = append(b, part...)
		b = append(b, 0)
	}
	for _, l := range labels {
		b = append(b, 1)
		b = append(b, l.Name...)
		b = append(b, 0)
		b = append(b, l.Value...)
	}
	se, ok := (*s.series.Load())[string(b)]
	if !ok {
		se = s.create(string(b), k, key, labels)
	}
	if se == nil {
		s.dropped.Inc()
	}
	return se
}

// create makes what a new key and label set needs and publishes the series
// in a new copy of the lookup map.
func (s *librarySink) create(id string, k sampleKind, key []string, labels []gometrics.Label) *sinkSeries {
	s.mu.Lock()
	defer s.mu.Unlock()
	current := *s.series.Load()
	if se, ok := current[id]; ok {
		return se
	}
	se := s.newSeries(k, key, labels)
	next := maps.Clone(current)
	next[id] = se
	s.series.Store(&next)
	return se
}

// newSeries finds or creates the family for key and returns the series
// for the label values, or nil if the family clashes. s.mu is held.
func (s *librarySink) newSeries(k sampleKind, key []string, labels []gometrics.Label) *sinkSeries {
	name, help, scale, buckets := describe(k, key)
	names := make([]string, len(labels))
	values := make([]string, len(labels))
	for i, l := range labels {
		names[i], values[i] = snakeCase([]string{l.Name}), strings.ToValidUTF8(l.Value, "\uFFFD")
	}
	f := s.families[name]
	if f == nil {
		if !usableLabels(k, names) {
			return nil
		}
		f = &sinkFamily{kind: k, labels: names, scale: scale, vec: newVec(k, name, help, buckets, names)}
		s.families[name] = f
	}
	if f.kind != k || !slices.Equal(f.labels, names) {
		return nil
	}
	se := &sinkSeries{scale: f.scale}
	switch v := f.vec.(type) {
	case *prometheus.CounterVec:
		se.counter = v.WithLabelValues(values...)
	case *prometheus.GaugeVec:
		se.gauge = v.WithLabelValues(values...)
	case *prometheus.HistogramVec:
		se.histogram = v.WithLabelValues(values...)
	}
	return se
}

// newVec returns a family of kind k.
func newVec(k sampleKind, name, help string, buckets []float64, labels []string) prometheus.Collector {
	switch k {
	case kindCounter:
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	case kindGauge:
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	}
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
}

// usableLabels reports whether client_golang accepts these (snake-cased)
// label names: not empty, not starting with a digit or __, not le on a
// histogram, none repeated.
func usableLabels(k sampleKind, names []string) bool {
	for i, n := range names {
		if n == "" || isDigit(n[0]) || strings.HasPrefix(n, "__") ||
			(k == kindSample && n == "le") || slices.Contains(names[:i], n) {
			return false
		}
	}
	return true
}

// describe names the family of a go-metrics key and says how its values are
// scaled and bucketed.
func describe(k sampleKind, key []string) (name, help string, scale float64, buckets []float64) {
	dotted := strings.Join(key, ".")
	name = "tokend_" + snakeCase(key)
	switch k {
	case kindCounter:
		return name + "_total", fmt.Sprintf("go-metrics counter %s.", dotted), 1, nil
	case kindGauge:
		if millisecondGauges[dotted] {
			return name + "_seconds", fmt.Sprintf("go-metrics gauge %s, in seconds.", dotted), .001, nil
		}
		return name, fmt.Sprintf("go-metrics gauge %s.", dotted), 1, nil
	}
	if u, ok := sampleUnits[dotted]; ok {
		return name + u.suffix, fmt.Sprintf("go-metrics sample %s.", dotted), 1, u.buckets
	}
	return name + "_seconds", fmt.Sprintf("go-metrics timing %s, in seconds.", dotted), .001, timeBuckets
}

// snakeCase joins parts with underscores, turning camelCase (and acronyms,
// as in getRPCType) into snake_case and anything outside [a-z0-9_] into _.
func snakeCase(parts []string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('_')
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			switch {
			case isUpper(c):
				prevLower := j > 0 && (isLower(p[j-1]) || isDigit(p[j-1]))
				acronymEnd := j > 0 && isUpper(p[j-1]) && j+1 < len(p) && isLower(p[j+1])
				if prevLower || acronymEnd {
					b.WriteByte('_')
				}
				b.WriteByte(c + 'a' - 'A')
			case isLower(c), isDigit(c), c == '_':
				b.WriteByte(c)
			default:
				b.WriteByte('_')
			}
		}
	}
	return b.String()
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
