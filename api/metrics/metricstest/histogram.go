package metricstest

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// histogramSeries is one histogram series as parsed: its buckets by upper
// bound, its sum and its count.
type histogramSeries struct {
	buckets  map[float64]float64
	sum      bool
	count    float64
	hasCount bool
}

// checkHistograms verifies every histogram series: buckets cumulative
// (never decreasing as le grows), a +Inf bucket equal to _count, and a _sum.
func checkHistograms(e *Exposition) error {
	all := map[string]*histogramSeries{}
	for _, s := range e.Samples {
		base, suffix, ok := histogramPart(e, s.Name)
		if !ok {
			continue
		}
		labels := maps.Clone(s.Labels)
		delete(labels, "le")
		key := base + fmt.Sprint(sortedPairs(labels))
		h := all[key]
		if h == nil {
			h = &histogramSeries{buckets: map[float64]float64{}}
			all[key] = h
		}
		switch suffix {
		case "_bucket":
			le, err := parseFloat(s.Labels["le"])
			if _, has := s.Labels["le"]; !has || err != nil {
				return fmt.Errorf("%s: bucket without a valid le", key)
			}
			h.buckets[le] = s.Value
		case "_sum":
			h.sum = true
		case "_count":
			h.count, h.hasCount = s.Value, true
		}
	}
	for key, h := range all {
		if err := h.check(); err != nil {
			return fmt.Errorf("histogram %s: %w", key, err)
		}
	}
	return nil
}

func (h *histogramSeries) check() error {
	bounds := slices.Sorted(maps.Keys(h.buckets))
	if len(bounds) == 0 || !math.IsInf(bounds[len(bounds)-1], 1) {
		return fmt.Errorf("no +Inf bucket")
	}
	for i := 1; i < len(bounds); i++ {
		if h.buckets[bounds[i]] < h.buckets[bounds[i-1]] {
			return fmt.Errorf("bucket le=%v is below le=%v: not cumulative", bounds[i], bounds[i-1])
		}
	}
	switch {
	case !h.sum || !h.hasCount:
		return fmt.Errorf("missing _sum or _count")
	case h.count != h.buckets[math.Inf(1)]:
		return fmt.Errorf("_count %v differs from the +Inf bucket %v", h.count, h.buckets[math.Inf(1)])
	}
	return nil
}

// histogramPart splits a sample name of a histogram family into the family
// and its suffix.
func histogramPart(e *Exposition, name string) (base, suffix string, ok bool) {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, found := strings.CutSuffix(name, suffix); found && e.Types[base] == "histogram" {
			return base, suffix, true
		}
	}
	return "", "", false
}
