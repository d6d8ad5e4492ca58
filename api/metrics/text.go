package metrics

import (
	"bufio"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ContentType is the media type of what Write produces.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Write runs the OnCollect hooks of regs and writes their families in the
// Prometheus text format, sorted by name, each with its HELP and TYPE lines.
// A family without series is left out. A name registered in more than one of
// regs is written once, from the first registry that has it, so that the
// output stays valid; give registries that are written together disjoint
// name prefixes.
func Write(w io.Writer, regs ...*Registry) error {
	var all []*family
	seen := map[string]bool{}
	for _, r := range regs {
		for _, f := range r.gather() {
			if !seen[f.name] {
				seen[f.name] = true
				all = append(all, f)
			}
		}
	}
	slices.SortFunc(all, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	tw := textWriter{w: bufio.NewWriter(w)}
	for _, f := range all {
		tw.family(f)
	}
	return tw.w.Flush()
}

// textWriter writes lines of the text format; it keeps one scratch buffer.
type textWriter struct {
	w   *bufio.Writer
	buf []byte
}

func (t *textWriter) family(f *family) {
	ss := f.sortedSeries()
	if len(ss) == 0 {
		return
	}
	b := append(t.buf[:0], "# HELP "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = appendEscaped(b, f.help, false)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = append(b, f.kind.String()...)
	b = append(b, '\n')
	t.buf = b
	_, _ = t.w.Write(b)
	for _, s := range ss {
		switch m := s.metric.(type) {
		case *Counter:
			t.sample(f, "", s.values, "", m.v.load())
		case *Gauge:
			t.sample(f, "", s.values, "", m.v.load())
		case *Histogram:
			t.histogram(f, s.values, m)
		}
	}
}

// histogram writes the cumulative buckets, the sum and the count.
func (t *textWriter) histogram(f *family, values []string, h *Histogram) {
	cumulative, sum := h.snapshot()
	for i, n := range cumulative {
		le := math.Inf(1)
		if i < len(h.upper) {
			le = h.upper[i]
		}
		t.sample(f, "_bucket", values, string(appendFloat(nil, le)), float64(n))
	}
	t.sample(f, "_sum", values, "", sum)
	t.sample(f, "_count", values, "", float64(cumulative[len(cumulative)-1]))
}

// sample writes one line: the family name plus suffix, the labels (and le,
// when not empty) and the value.
func (t *textWriter) sample(f *family, suffix string, values []string, le string, v float64) {
	b := append(t.buf[:0], f.name...)
	b = append(b, suffix...)
	if len(values) > 0 || le != "" {
		b = append(b, '{')
		for i, name := range f.labels {
			b = appendLabel(b, name, values[i])
		}
		if le != "" {
			b = appendLabel(b, "le", le)
		}
		b[len(b)-1] = '}' // replaces the last label's comma
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	b = append(b, '\n')
	t.buf = b
	_, _ = t.w.Write(b)
}

// appendLabel appends name="value", with a trailing comma.
func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	b = appendEscaped(b, value, true)
	return append(b, '"', ',')
}

// appendEscaped escapes a backslash and a line feed, and in a label value
// also a double quote, as the text format requires.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '"' && quote:
			b = append(b, '\\', '"')
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat formats v as the text format expects, +Inf, -Inf and NaN
// included.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
