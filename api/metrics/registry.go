package metrics

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// kind is a family's metric type, named as in the TYPE line.
type kind uint8

const (
	kindCounter kind = iota
	kindGauge
	kindHistogram
)

func (k kind) String() string {
	return [...]string{"counter", "gauge", "histogram"}[k]
}

// family is one metric name with its help, type, label names and series.
type family struct {
	name    string
	help    string
	kind    kind
	labels  []string
	buckets []float64 // histograms only

	mu     sync.RWMutex
	series map[string]*series // by label values joined with labelSep
}

// series is one set of label values and its metric.
type series struct {
	values []string
	metric any // *Counter, *Gauge or *Histogram, after the family's kind
}

// labelSep joins label values into a map key; it cannot occur in UTF-8.
const labelSep = "\xff"

// with returns the metric for values, creating it on first use.
func (f *family) with(values []string) any {
	if len(values) != len(f.labels) {
		panic(fmt.Sprintf("metrics: %s has labels %v, got %d values", f.name, f.labels, len(values)))
	}
	key := strings.Join(values, labelSep)
	f.mu.RLock()
	s := f.series[key]
	f.mu.RUnlock()
	if s != nil {
		return s.metric
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s = f.series[key]; s == nil {
		s = &series{values: make([]string, len(values)), metric: f.newMetric()}
		for i, v := range values {
			s.values[i] = strings.ToValidUTF8(v, "\uFFFD")
		}
		f.series[key] = s
	}
	return s.metric
}

func (f *family) newMetric() any {
	switch f.kind {
	case kindCounter:
		return &Counter{}
	case kindGauge:
		return &Gauge{}
	}
	return newHistogram(f.buckets)
}

// sortedSeries returns the family's series ordered by label values.
func (f *family) sortedSeries() []*series {
	f.mu.RLock()
	out := make([]*series, 0, len(f.series))
	for _, s := range f.series {
		out = append(out, s)
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b *series) int { return slices.Compare(a.values, b.values) })
	return out
}

// Registry holds metric families and the hooks that refresh them at scrape
// time. It is safe for concurrent use. Registering a name twice, or an
// invalid name, label or bucket layout, panics: those are programming errors
// found the first time the code runs.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
	collect  []func()
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{families: map[string]*family{}}
}

// NewCounterVec registers a counter family with the given label names.
// By convention its name ends in _total.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	return &CounterVec{r.register(name, help, kindCounter, labels, nil)}
}

// NewCounter registers a counter without labels.
func (r *Registry) NewCounter(name, help string) *Counter {
	return r.NewCounterVec(name, help).With()
}

// NewGaugeVec registers a gauge family with the given label names.
func (r *Registry) NewGaugeVec(name, help string, labels ...string) *GaugeVec {
	return &GaugeVec{r.register(name, help, kindGauge, labels, nil)}
}

// NewGauge registers a gauge without labels.
func (r *Registry) NewGauge(name, help string) *Gauge {
	return r.NewGaugeVec(name, help).With()
}

// NewHistogramVec registers a histogram family with the given finite,
// strictly ascending bucket upper bounds (the +Inf bucket is implied) and
// label names.
func (r *Registry) NewHistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	return &HistogramVec{r.register(name, help, kindHistogram, labels, buckets)}
}

// NewHistogram registers a histogram without labels.
func (r *Registry) NewHistogram(name, help string, buckets []float64) *Histogram {
	return r.NewHistogramVec(name, help, buckets).With()
}

// OnCollect adds a hook that Write runs before writing the registry, to set
// gauges that mirror state kept elsewhere. Hooks may run concurrently (two
// scrapes at once) and must be quick.
func (r *Registry) OnCollect(hook func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collect = append(r.collect, hook)
}

func (r *Registry) register(name, help string, k kind, labels []string, buckets []float64) *family {
	if err := checkFamily(name, k, labels, buckets); err != nil {
		panic("metrics: " + err.Error())
	}
	f := &family{name: name, help: help, kind: k, labels: slices.Clone(labels),
		buckets: slices.Clone(buckets), series: map[string]*series{}}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.families[name]; dup {
		panic(fmt.Sprintf("metrics: %s is already registered", name))
	}
	r.families[name] = f
	return f
}

// checkFamily validates a family before it is registered.
func checkFamily(name string, k kind, labels []string, buckets []float64) error {
	if !validName(name, true) {
		return fmt.Errorf("invalid metric name %q", name)
	}
	for i, l := range labels {
		switch {
		case !validName(l, false) || strings.HasPrefix(l, "__"):
			return fmt.Errorf("%s: invalid label name %q", name, l)
		case k == kindHistogram && l == "le":
			return fmt.Errorf("%s: a histogram cannot have a label named le", name)
		case slices.Contains(labels[:i], l):
			return fmt.Errorf("%s: label %q repeated", name, l)
		}
	}
	if k != kindHistogram {
		return nil
	}
	if len(buckets) == 0 {
		return fmt.Errorf("%s: a histogram needs buckets", name)
	}
	for i, b := range buckets {
		if math.IsInf(b, 0) || math.IsNaN(b) || (i > 0 && b <= buckets[i-1]) {
			return fmt.Errorf("%s: buckets must be finite and strictly ascending: %v", name, buckets)
		}
	}
	return nil
}

// validName reports whether s is a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)
// or, without colons, a label name.
func validName(s string, colons bool) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for i, c := range s {
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(colons && c == ':') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// gather runs the hooks and returns the families.
func (r *Registry) gather() []*family {
	r.mu.Lock()
	hooks := slices.Clone(r.collect)
	out := make([]*family, 0, len(r.families))
	for _, f := range r.families {
		out = append(out, f)
	}
	r.mu.Unlock()
	for _, hook := range hooks {
		hook()
	}
	return out
}
