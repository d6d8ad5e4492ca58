package faults

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkTimeout bounds the linearizability check of one token pair.
const checkTimeout = 20 * time.Second

// maxPrinted bounds how many violations a failed run prints in full.
const maxPrinted = 10

// report checks the history and prints, per scenario, the operations, the
// faults, the violations and the longest unavailability of writes and of
// token checks; any violation fails the test.
func report(t *testing.T, seed uint64, ops []Op, segs []segment) {
	t.Helper()
	began := time.Now()
	v := Check(ops, checkTimeout)
	t.Logf("checked %d operations in %v", len(ops), time.Since(began).Round(time.Millisecond))
	var b strings.Builder
	fmt.Fprintf(&b, "%d operations, %d violations, %d pairs with stale reads during an invalidation (allowed), %d pairs undecided\n",
		len(ops), len(v.Violations), v.StaleReads, v.Inconclusive)
	fmt.Fprintf(&b, "%-52s %17s %6s %5s %10s %10s %10s  %s\n", "scenario", "from..to", "ops", "viol", "write-gap", "read-gap", "impaired", "faults")
	for _, s := range segs {
		n := 0
		for _, op := range ops {
			if op.Call >= s.start && op.Call < s.end {
				n++
			}
		}
		viol := 0
		for _, x := range v.Violations {
			if at := x.Offending.Return; at >= s.start && at < s.end {
				viol++
			}
		}
		writes := gapText(ops, s, func(op Op) bool { return op.Kind == Issue })
		reads, impaired := readGaps(ops, s)
		span := fmt.Sprintf("%.1fs..%.1fs", s.start.Seconds(), s.end.Seconds())
		fmt.Fprintf(&b, "%-52s %17s %6d %5d %10s %10v %10v  %s\n", s.name, span, n, viol, writes,
			reads.Round(time.Millisecond), impaired.Round(time.Millisecond), strings.Join(s.faults, "; "))
	}
	t.Log("\n" + b.String())
	for i, x := range v.Violations {
		if i == maxPrinted {
			t.Errorf("... and %d more violations", len(v.Violations)-maxPrinted)
			break
		}
		t.Errorf("violation (seed %d): %s\n  offending answer: %s\n  context of pair %d (its origin, then all its ops):%s",
			seed, x, x.Offending, x.Pair, pairContext(ops, x.Pair))
	}
	dumpHistory(t, ops)
	if v.Inconclusive > 0 {
		t.Logf("%d token pairs could not be checked within %v each", v.Inconclusive, checkTimeout)
	}
}

// gapText is the longest gap in s between answers to ops match accepts,
// or "n/a" if none was sent (the final checks send no writes).
func gapText(ops []Op, s segment, match func(Op) bool) string {
	for _, op := range ops {
		if match(op) && op.Call >= s.start && op.Call < s.end {
			return LongestGap(ops, s.start, s.end, match).Round(time.Millisecond).String()
		}
	}
	return "n/a"
}

// readGaps returns the longest gap between answered token checks on one
// node, over the nodes the scenario did not impair and over those it did.
func readGaps(ops []Op, s segment) (healthy, impaired time.Duration) {
	nodes := map[string]bool{}
	for _, op := range ops {
		nodes[op.Node] = true
	}
	for id := range nodes {
		gap := LongestGap(ops, s.start, s.end, func(op Op) bool { return op.Kind == Authenticate && op.Node == id })
		if slices.Contains(s.impaired, id) {
			impaired = max(impaired, gap)
		} else {
			healthy = max(healthy, gap)
		}
	}
	return healthy, impaired
}

// maxContext bounds the ops printed around a violation.
const maxContext = 40

// pairContext lists the op that produced pair p, then p's own ops.
func pairContext(ops []Op, p int) string {
	var b strings.Builder
	n := 0
	for _, op := range ops {
		if (op.Result == p || op.Pair == p) && n < maxContext {
			b.WriteString("\n    " + op.String())
			n++
		}
	}
	return b.String()
}

// dumpHistory writes every op, one per line, to the file named by
// TOKEND_FAULT_HISTORY, if set. Ops name tokens by pair number only.
func dumpHistory(t *testing.T, ops []Op) {
	path := os.Getenv("TOKEND_FAULT_HISTORY")
	if path == "" {
		return
	}
	var b strings.Builder
	for _, op := range ops {
		b.WriteString(op.String() + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Errorf("writing the history: %v", err)
	}
}
