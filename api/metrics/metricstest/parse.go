// Package metricstest parses and checks the Prometheus text format, so that
// tests can assert the values an exposition carries instead of comparing
// golden strings. It is strict: every sample must belong to a family with a
// TYPE line, a family's lines must be contiguous, and histograms must be
// cumulative with a +Inf bucket equal to their count.
package metricstest

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Sample is one sample line.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Exposition is a parsed scrape.
type Exposition struct {
	Types   map[string]string // family name to counter, gauge, histogram...
	Help    map[string]string // family name to unescaped help text
	Samples []Sample
}

// Parse reads and checks a text-format exposition.
func Parse(r io.Reader) (*Exposition, error) {
	p := parser{e: &Exposition{Types: map[string]string{}, Help: map[string]string{}},
		done: map[string]bool{}, series: map[string]bool{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if err := p.line(sc.Text()); err != nil {
			return nil, fmt.Errorf("line %d: %w: %q", n, err, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := checkHistograms(p.e); err != nil {
		return nil, err
	}
	return p.e, nil
}

// Value returns the value of the one sample named name whose labels include
// the given name/value pairs; false if there is none or more than one.
func (e *Exposition) Value(name string, labels ...string) (float64, bool) {
	var v float64
	found := 0
	for _, s := range e.Samples {
		if s.Name == name && matches(s.Labels, labels) {
			v = s.Value
			found++
		}
	}
	return v, found == 1
}

// Sum adds the values of every sample named name whose labels include the
// given pairs.
func (e *Exposition) Sum(name string, labels ...string) float64 {
	var sum float64
	for _, s := range e.Samples {
		if s.Name == name && matches(s.Labels, labels) {
			sum += s.Value
		}
	}
	return sum
}

func matches(have map[string]string, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		if v, ok := have[want[i]]; !ok || v != want[i+1] {
			return false
		}
	}
	return true
}

// parser holds the state of one Parse.
type parser struct {
	e       *Exposition
	current string          // family of the previous line
	done    map[string]bool // families whose lines have ended
	series  map[string]bool // name and labels of every sample seen
}

func (p *parser) line(l string) error {
	switch {
	case l == "":
		return nil
	case strings.HasPrefix(l, "# HELP "), strings.HasPrefix(l, "# TYPE "):
		return p.meta(l)
	case strings.HasPrefix(l, "#"):
		return nil
	}
	s, err := parseSample(l)
	if err != nil {
		return err
	}
	fam := p.familyOf(s.Name)
	if fam == "" {
		return fmt.Errorf("sample %s has no TYPE", s.Name)
	}
	if err := p.enter(fam); err != nil {
		return err
	}
	key := s.Name + fmt.Sprint(sortedPairs(s.Labels))
	if p.series[key] {
		return fmt.Errorf("series repeated")
	}
	p.series[key] = true
	p.e.Samples = append(p.e.Samples, s)
	return nil
}

// meta handles a HELP or TYPE line.
func (p *parser) meta(l string) error {
	fields := strings.SplitN(l, " ", 4)
	if len(fields) < 3 || !validName(fields[2]) {
		return fmt.Errorf("bad metadata line")
	}
	name, text := fields[2], ""
	if len(fields) == 4 {
		text = fields[3]
	}
	if err := p.enter(name); err != nil {
		return err
	}
	if fields[1] == "HELP" {
		if _, dup := p.e.Help[name]; dup {
			return fmt.Errorf("second HELP for %s", name)
		}
		p.e.Help[name] = strings.NewReplacer(`\\`, `\`, `\n`, "\n").Replace(text)
		return nil
	}
	if _, dup := p.e.Types[name]; dup {
		return fmt.Errorf("second TYPE for %s", name)
	}
	for _, s := range p.e.Samples {
		if p.familyOf(s.Name) == name {
			return fmt.Errorf("TYPE for %s after its samples", name)
		}
	}
	switch text {
	case "counter", "gauge", "histogram", "summary", "untyped":
		p.e.Types[name] = text
		return nil
	}
	return fmt.Errorf("unknown type %q", text)
}

// enter moves to family fam, refusing to come back to one that ended.
func (p *parser) enter(fam string) error {
	if fam == p.current {
		return nil
	}
	if p.done[fam] {
		return fmt.Errorf("lines of %s are not contiguous", fam)
	}
	if p.current != "" {
		p.done[p.current] = true
	}
	p.current = fam
	return nil
}

// familyOf returns the TYPE'd family a sample name belongs to, or "".
func (p *parser) familyOf(name string) string {
	if _, ok := p.e.Types[name]; ok {
		return name
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && p.e.Types[base] == "histogram" {
			return base
		}
	}
	return ""
}

// parseSample parses name{labels} value [timestamp].
func parseSample(l string) (Sample, error) {
	i := strings.IndexAny(l, "{ ")
	if i <= 0 || !validName(l[:i]) {
		return Sample{}, fmt.Errorf("bad metric name")
	}
	s := Sample{Name: l[:i], Labels: map[string]string{}}
	rest := l[i:]
	if rest[0] == '{' {
		var err error
		if rest, err = parseLabels(rest[1:], s.Labels); err != nil {
			return Sample{}, err
		}
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 || !strings.HasPrefix(rest, " ") {
		return Sample{}, fmt.Errorf("bad value")
	}
	v, err := parseFloat(fields[0])
	if err != nil {
		return Sample{}, err
	}
	s.Value = v
	return s, nil
}

// parseLabels parses name="value",... up to and including the closing brace
// and returns what follows it.
func parseLabels(s string, into map[string]string) (string, error) {
	for {
		if rest, ok := strings.CutPrefix(s, "}"); ok {
			return rest, nil
		}
		eq := strings.Index(s, `="`)
		if eq <= 0 || !validName(s[:eq]) || strings.Contains(s[:eq], ":") {
			return "", fmt.Errorf("bad label name")
		}
		name := s[:eq]
		value, rest, err := unquote(s[eq+2:])
		if err != nil {
			return "", err
		}
		if _, dup := into[name]; dup {
			return "", fmt.Errorf("label %s repeated", name)
		}
		into[name] = value
		s = strings.TrimPrefix(rest, ",")
		if !strings.HasPrefix(rest, ",") && !strings.HasPrefix(rest, "}") {
			return "", fmt.Errorf("expected , or } after label %s", name)
		}
	}
}

// unquote reads an escaped label value up to its closing quote.
func unquote(s string) (value, rest string, err error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			return b.String(), s[i+1:], nil
		case '\n':
			return "", "", fmt.Errorf("raw line feed in label value")
		case '\\':
			if i+1 == len(s) {
				return "", "", fmt.Errorf("dangling backslash")
			}
			i++
			switch s[i] {
			case '\\', '"':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			default:
				return "", "", fmt.Errorf("unknown escape \\%c", s[i])
			}
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", fmt.Errorf("unterminated label value")
}

func parseFloat(s string) (float64, error) {
	switch s {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

func validName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return s != ""
}

// sortedPairs renders labels in a stable order, for identity checks.
func sortedPairs(labels map[string]string) []string {
	out := make([]string, 0, 2*len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		out = append(out, k, labels[k])
	}
	return out
}
