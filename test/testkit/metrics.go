package testkit

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is a parsed Prometheus text exposition: its families by name.
// Tests read it by sample name, as the text format writes them: a
// histogram x answers for x_bucket (with its le label), x_sum and x_count.
type Metrics map[string]*dto.MetricFamily

// ParseMetrics parses a text exposition with expfmt and checks what expfmt
// leaves unchecked: every family has a TYPE (none is untyped), its lines
// are contiguous, no series is repeated, and every histogram is cumulative,
// with a +Inf bucket equal to its count.
func ParseMetrics(r io.Reader) (Metrics, error) {
	text, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, err
	}
	m := Metrics(families)
	if err := m.checkContiguous(text); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, s := range m.samples() {
		key := s.name + fmt.Sprint(sortedPairs(s.labels))
		if seen[key] {
			return nil, fmt.Errorf("series %s repeated", key)
		}
		seen[key] = true
	}
	for name, f := range m {
		if f.GetType() == dto.MetricType_UNTYPED {
			return nil, fmt.Errorf("%s has no TYPE", name)
		}
		for _, metric := range f.GetMetric() {
			if err := checkHistogram(metric.GetHistogram()); err != nil {
				return nil, fmt.Errorf("histogram %s%v: %w", name, labelsOf(metric), err)
			}
		}
	}
	return m, nil
}

// checkContiguous verifies that the sample lines of each family in text
// follow one another.
func (m Metrics) checkContiguous(text []byte) error {
	done := map[string]bool{}
	current := ""
	for line := range strings.Lines(string(text)) {
		end := strings.IndexAny(line, "{ ")
		if end <= 0 || strings.HasPrefix(line, "#") {
			continue
		}
		family := m.familyOf(line[:end])
		if family == current {
			continue
		}
		if done[family] {
			return fmt.Errorf("lines of %s are not contiguous", family)
		}
		done[current], current = true, family
	}
	return nil
}

// familyOf returns the family a sample name belongs to.
func (m Metrics) familyOf(name string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && m[base].GetType() == dto.MetricType_HISTOGRAM {
			return base
		}
	}
	return name
}

// GatherMetrics gathers g, writes it in the text format and parses it back
// with ParseMetrics: what a scrape of g would read.
func GatherMetrics(g prometheus.Gatherer) (Metrics, error) {
	families, err := g.Gather()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return nil, err
		}
	}
	return ParseMetrics(&buf)
}

// Value returns the value of the one sample named name whose labels include
// the given name/value pairs; false if there is none or more than one.
func (m Metrics) Value(name string, labels ...string) (float64, bool) {
	var v float64
	found := 0
	for _, s := range m.samples() {
		if s.name == name && matches(s.labels, labels) {
			v = s.value
			found++
		}
	}
	return v, found == 1
}

// Sum adds the values of every sample named name whose labels include the
// given pairs.
func (m Metrics) Sum(name string, labels ...string) float64 {
	var sum float64
	for _, s := range m.samples() {
		if s.name == name && matches(s.labels, labels) {
			sum += s.value
		}
	}
	return sum
}

// Type returns the type of family name as its TYPE line says it (counter,
// gauge, histogram...), "" if there is no such family.
func (m Metrics) Type(name string) string {
	f, ok := m[name]
	if !ok {
		return ""
	}
	return strings.ToLower(f.GetType().String())
}

// Help returns the help text of family name.
func (m Metrics) Help(name string) string { return m[name].GetHelp() }

// sample is one line of the text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// samples flattens the families into the lines the text format writes.
func (m Metrics) samples() []sample {
	var out []sample
	for name, f := range m {
		for _, metric := range f.GetMetric() {
			labels := labelsOf(metric)
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out = append(out, sample{name, labels, metric.GetCounter().GetValue()})
			case dto.MetricType_GAUGE:
				out = append(out, sample{name, labels, metric.GetGauge().GetValue()})
			case dto.MetricType_HISTOGRAM:
				out = append(out, histogramSamples(name, labels, metric.GetHistogram())...)
			default:
				out = append(out, sample{name, labels, metric.GetUntyped().GetValue()})
			}
		}
	}
	return out
}

// histogramSamples returns the _bucket, _sum and _count lines of h.
func histogramSamples(name string, labels map[string]string, h *dto.Histogram) []sample {
	out := []sample{{name + "_sum", labels, h.GetSampleSum()}, {name + "_count", labels, float64(h.GetSampleCount())}}
	for _, b := range h.GetBucket() {
		withLE := maps.Clone(labels)
		withLE["le"] = formatBound(b.GetUpperBound())
		out = append(out, sample{name + "_bucket", withLE, float64(b.GetCumulativeCount())})
	}
	return out
}

// checkHistogram verifies that h, if it is one, has cumulative buckets
// ending with a +Inf bucket equal to its count.
func checkHistogram(h *dto.Histogram) error {
	if h == nil {
		return nil
	}
	buckets := h.GetBucket()
	if len(buckets) == 0 || !math.IsInf(buckets[len(buckets)-1].GetUpperBound(), 1) {
		return fmt.Errorf("no +Inf bucket")
	}
	for i := 1; i < len(buckets); i++ {
		if buckets[i].GetCumulativeCount() < buckets[i-1].GetCumulativeCount() {
			return fmt.Errorf("bucket le=%v is below le=%v: not cumulative",
				buckets[i].GetUpperBound(), buckets[i-1].GetUpperBound())
		}
	}
	if inf := buckets[len(buckets)-1].GetCumulativeCount(); inf != h.GetSampleCount() {
		return fmt.Errorf("_count %d differs from the +Inf bucket %d", h.GetSampleCount(), inf)
	}
	return nil
}

// formatBound writes a bucket bound as the text format does.
func formatBound(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func labelsOf(metric *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range metric.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func matches(have map[string]string, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		if v, ok := have[want[i]]; !ok || v != want[i+1] {
			return false
		}
	}
	return true
}

// sortedPairs renders labels in a stable order, for identity checks.
func sortedPairs(labels map[string]string) []string {
	out := make([]string, 0, 2*len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		out = append(out, k, labels[k])
	}
	return out
}
