package testkit

import (
	"strings"
	"testing"
)

func TestParseMetrics_ReadsValuesLabelsAndHelp(t *testing.T) {
	in := "# HELP a_total Things \\\\ done.\n# TYPE a_total counter\n" +
		"a_total{k=\"x\\\"y\",j=\"1\"} 3\na_total{k=\"z\"} 1e+06\n" +
		"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n"
	m, err := ParseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := m.Value("a_total", "k", `x"y`); !ok || v != 3 {
		t.Fatalf("a_total{k=x\"y}: %v %v", v, ok)
	}
	if m.Sum("a_total") != 1e6+3 || m.Help("a_total") != `Things \ done.` || m.Type("h") != "histogram" {
		t.Fatalf("sum %v help %q type %q", m.Sum("a_total"), m.Help("a_total"), m.Type("h"))
	}
	for le, want := range map[string]float64{"1": 1, "+Inf": 2} {
		if v, ok := m.Value("h_bucket", "le", le); !ok || v != want {
			t.Errorf("h_bucket{le=%s} = %v %v, want %v", le, v, ok, want)
		}
	}
	if v, _ := m.Value("h_sum"); v != 3.5 {
		t.Errorf("h_sum = %v", v)
	}
	if v, _ := m.Value("h_count"); v != 2 {
		t.Errorf("h_count = %v", v)
	}
}

func TestParseMetrics_RefusesMalformedExpositions(t *testing.T) {
	for name, in := range map[string]string{
		"no TYPE":           "x 1\n",
		"not contiguous":    "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{l=\"2\"} 1\n",
		"TYPE after sample": "# TYPE a gauge\na 1\n# TYPE a gauge\n",
		"repeated series":   "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n",
		"bad escape":        "# TYPE a gauge\na{x=\"\\t\"} 1\n",
		"unterminated":      "# TYPE a gauge\na{x=\"1} 1\n",
		"bad value":         "# TYPE a gauge\na one\n",
		"unknown type":      "# TYPE a meter\n",
		"not cumulative":    "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
		"count mismatch":    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
		"no +Inf bucket":    "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n",
	} {
		if _, err := ParseMetrics(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
