package metrics_test

import (
	"bytes"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/tokend/tokend/api/metrics"
	"github.com/tokend/tokend/api/metrics/metricstest"
)

// scrape writes regs and parses the result back, failing on any format error.
func scrape(t *testing.T, regs ...*metrics.Registry) (*metricstest.Exposition, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := metrics.Write(&buf, regs...); err != nil {
		t.Fatal(err)
	}
	e, err := metricstest.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	return e, buf.String()
}

func wantValue(t *testing.T, e *metricstest.Exposition, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := e.Value(name, labels...)
	if !ok || got != want {
		t.Errorf("%s%v = %v (found %v), want %v", name, labels, got, ok, want)
	}
}

func TestWrite_CountersGaugesAndHistogramsParseBackToTheirValues(t *testing.T) {
	r := metrics.NewRegistry()
	grants := r.NewCounterVec("test_grants_total", "Grants.", "grant_type")
	grants.With("password").Inc()
	grants.With("password").Add(2)
	grants.With("password").Add(-5) // ignored: counters only go up
	grants.With("refresh_token").Inc()
	g := r.NewGauge("test_live", "Live things.")
	g.Set(10)
	g.Add(-3)
	h := r.NewHistogram("test_latency_seconds", "Latency.", []float64{0.1, 1, 10})
	for _, v := range []float64{0.05, 0.1, 0.5, 1, 20, math.NaN()} {
		h.Observe(v)
	}

	e, _ := scrape(t, r)
	wantValue(t, e, 3, "test_grants_total", "grant_type", "password")
	wantValue(t, e, 1, "test_grants_total", "grant_type", "refresh_token")
	wantValue(t, e, 7, "test_live")
	// le is inclusive, the buckets are cumulative and NaN is not counted.
	for le, want := range map[string]float64{"0.1": 2, "1": 4, "10": 4, "+Inf": 5} {
		wantValue(t, e, want, "test_latency_seconds_bucket", "le", le)
	}
	wantValue(t, e, 5, "test_latency_seconds_count")
	wantValue(t, e, 21.65, "test_latency_seconds_sum")
	for name, typ := range map[string]string{"test_grants_total": "counter", "test_live": "gauge", "test_latency_seconds": "histogram"} {
		if e.Types[name] != typ || e.Help[name] == "" {
			t.Errorf("%s: type %q help %q", name, e.Types[name], e.Help[name])
		}
	}
}

func TestWrite_SortsFamiliesAndSeriesAndSkipsEmptyFamilies(t *testing.T) {
	r := metrics.NewRegistry()
	v := r.NewGaugeVec("b_gauge", "B.", "x")
	v.With("z").Set(1)
	v.With("a").Set(2)
	r.NewCounter("a_total", "A.")
	r.NewCounterVec("c_total", "Never used.", "k")
	_, out := scrape(t, r)
	want := "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n" +
		"# HELP b_gauge B.\n# TYPE b_gauge gauge\nb_gauge{x=\"a\"} 2\nb_gauge{x=\"z\"} 1\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func TestWrite_EscapesLabelValuesAndHelp(t *testing.T) {
	r := metrics.NewRegistry()
	odd := "back\\slash \"quoted\"\nnew line"
	r.NewCounterVec("test_total", "Help with a \\ and a\nline feed.", "v").With(odd).Inc()
	r.NewCounterVec("test_utf8_total", "Invalid UTF-8 is replaced.", "v").With("a\xffb").Inc()
	e, out := scrape(t, r)
	if !strings.Contains(out, `test_total{v="back\\slash \"quoted\"\nnew line"} 1`) {
		t.Fatalf("label value not escaped:\n%s", out)
	}
	if !strings.Contains(out, "# HELP test_total Help with a \\\\ and a\\nline feed.\n") {
		t.Fatalf("help not escaped:\n%s", out)
	}
	wantValue(t, e, 1, "test_total", "v", odd)
	wantValue(t, e, 1, "test_utf8_total", "v", "a\uFFFDb")
	if e.Help["test_total"] != "Help with a \\ and a\nline feed." {
		t.Fatalf("help parsed back as %q", e.Help["test_total"])
	}
}

func TestWrite_SeveralRegistriesAndCollectHooks(t *testing.T) {
	node, shared := metrics.NewRegistry(), metrics.NewRegistry()
	state := 0
	live := node.NewGauge("node_live", "Set at scrape time.")
	node.OnCollect(func() { live.Set(float64(state)) })
	shared.NewCounter("shared_total", "Shared.").Inc()
	shared.NewCounter("node_live", "Same name in a second registry: left out.")

	state = 4
	e, _ := scrape(t, node, shared)
	wantValue(t, e, 4, "node_live")
	wantValue(t, e, 1, "shared_total")
	if e.Types["node_live"] != "gauge" {
		t.Fatalf("node_live written from the second registry: %v", e.Types)
	}
	state = 9
	e, _ = scrape(t, node, shared)
	wantValue(t, e, 9, "node_live")
}

func TestRegistry_RefusesInvalidAndDuplicateFamilies(t *testing.T) {
	for name, register := range map[string]func(r *metrics.Registry){
		"duplicate":           func(r *metrics.Registry) { r.NewCounter("x_total", ""); r.NewGauge("x_total", "") },
		"bad name":            func(r *metrics.Registry) { r.NewCounter("1x", "") },
		"bad label":           func(r *metrics.Registry) { r.NewCounterVec("x_total", "", "a-b") },
		"reserved label":      func(r *metrics.Registry) { r.NewCounterVec("x_total", "", "__x") },
		"repeated label":      func(r *metrics.Registry) { r.NewCounterVec("x_total", "", "a", "a") },
		"le on a histogram":   func(r *metrics.Registry) { r.NewHistogramVec("x", "", []float64{1}, "le") },
		"no buckets":          func(r *metrics.Registry) { r.NewHistogram("x", "", nil) },
		"unsorted buckets":    func(r *metrics.Registry) { r.NewHistogram("x", "", []float64{2, 1}) },
		"infinite bucket":     func(r *metrics.Registry) { r.NewHistogram("x", "", []float64{1, math.Inf(1)}) },
		"wrong label count":   func(r *metrics.Registry) { r.NewCounterVec("x_total", "", "a").With() },
		"too many label vals": func(r *metrics.Registry) { r.NewCounterVec("x_total", "", "a").With("1", "2") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			register(metrics.NewRegistry())
		}()
	}
}

func TestConcurrentUpdatesAndScrapesLoseNothing(t *testing.T) {
	r := metrics.NewRegistry()
	c := r.NewCounterVec("test_total", "", "w")
	h := r.NewHistogram("test_seconds", "", []float64{0.5})
	const workers, each = 4, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			mine := c.With(string(rune('a' + w)))
			for i := range each {
				mine.Inc()
				h.Observe(float64(i % 2))
			}
		})
	}
	for range 20 { // scrapes racing with the updates must stay valid
		scrape(t, r)
	}
	wg.Wait()
	e, _ := scrape(t, r)
	if got := e.Sum("test_total"); got != workers*each {
		t.Fatalf("counted %v, want %v", got, workers*each)
	}
	wantValue(t, e, workers*each, "test_seconds_count")
	wantValue(t, e, workers*each/2, "test_seconds_bucket", "le", "0.5")
	wantValue(t, e, workers*each/2, "test_seconds_sum")
}

func BenchmarkCounterInc(b *testing.B) {
	c := metrics.NewRegistry().NewCounter("x_total", "")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Inc()
		}
	})
}

func BenchmarkHistogramObserve(b *testing.B) {
	h := metrics.NewRegistry().NewHistogram("x_seconds", "", []float64{.001, .01, .1, 1, 10})
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Observe(0.05)
		}
	})
}
