package faults

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Violation is a sub-history that breaks a guarantee.
type Violation struct {
	// Guarantee names the broken guarantee.
	Guarantee string
	// Pair is the token pair whose history breaks it (0 for an unexpected
	// answer).
	Pair int
	// Ops is a minimal offending sub-history: removing any one of its ops
	// makes it legal.
	Ops []Op
	// Offending is the answer in Ops that no state allows.
	Offending Op
}

// String prints the violation with its sub-history, one op per line.
func (v Violation) String() string {
	var b strings.Builder
	b.WriteString(v.Guarantee)
	for _, op := range v.Ops {
		b.WriteString("\n    " + op.String())
	}
	return b.String()
}

// Verdict is what the checker found in a history.
type Verdict struct {
	Violations []Violation
	// StaleReads counts pairs whose history meets the documented guarantees
	// but is not linearizable: a token check that still accepted a token
	// while its invalidation was in flight, after another had refused it.
	StaleReads int
	// Inconclusive counts pairs the checker could not decide in time.
	Inconclusive int
}

// Check verifies ops against the documented guarantees, per token pair,
// giving each pair at most timeout.
func Check(ops []Op, timeout time.Duration) Verdict {
	var v Verdict
	never := time.Duration(0)
	byPair := map[int][]Op{}
	for _, op := range ops {
		never = max(never, op.Return+time.Hour)
		if op.Outcome == Unexpected {
			v.Violations = append(v.Violations, Violation{Guarantee: "an answer outside the contract", Ops: []Op{op}, Offending: op})
		}
		if op.Pair != 0 {
			byPair[op.Pair] = append(byPair[op.Pair], op)
		}
	}
	pairs := make([]int, 0, len(byPair))
	for p := range byPair {
		pairs = append(pairs, p)
	}
	sort.Ints(pairs)
	documented, strict := Model(false), Model(true)
	for _, p := range pairs {
		switch porcupine.CheckOperationsTimeout(documented, modelOps(byPair[p], false, never), timeout) {
		case porcupine.Illegal:
			smallest := minimize(byPair[p], documented, never, timeout)
			bad := offending(smallest)
			v.Violations = append(v.Violations, Violation{Guarantee: guaranteeOf(bad), Pair: p, Ops: smallest, Offending: bad})
			continue
		case porcupine.Unknown:
			v.Inconclusive++
			continue
		}
		if porcupine.CheckOperationsTimeout(strict, modelOps(byPair[p], true, never), timeout) == porcupine.Illegal {
			v.StaleReads++
		}
	}
	return v
}

// minimize drops ops from an illegal history, one at a time, as long as
// what remains stays illegal. It drops only ops whose removal cannot make
// a legal history illegal, so that what remains shows the real fault:
// answers that change no state (token checks, refused refreshes), and ops
// invoked after every other op has completed (nothing can be ordered after
// them, so nothing depends on them).
func minimize(ops []Op, m porcupine.Model, never, timeout time.Duration) []Op {
	cur := slices.Clone(ops)
	for i := len(cur) - 1; i >= 0; i-- {
		if !changesNothing(cur[i]) && !invokedLast(cur, i) {
			continue
		}
		try := slices.Delete(slices.Clone(cur), i, i+1)
		if porcupine.CheckOperationsTimeout(m, modelOps(try, false, never), timeout) == porcupine.Illegal {
			cur = try
		}
	}
	return cur
}

// changesNothing reports whether op's model step leaves every state as it
// was.
func changesNothing(op Op) bool {
	switch op.Kind {
	case Authenticate:
		return true
	case Refresh:
		return op.Outcome == GrantInvalidated || op.Outcome == GrantReused || op.Outcome == NotFound
	}
	return false
}

// invokedLast reports whether ops[i] was invoked after every other op of
// ops had completed.
func invokedLast(ops []Op, i int) bool {
	for j, op := range ops {
		if j != i && (unknownEffect(op) || op.Return >= ops[i].Call) {
			return false
		}
	}
	return true
}

// offending returns the answer of a minimal illegal history that no state
// allows: its last op that changes nothing (a token check or a refused
// refresh), else its last op.
func offending(ops []Op) Op {
	last, found := ops[len(ops)-1], false
	for _, op := range ops {
		if changesNothing(op) && (!found || op.Return > last.Return) {
			last, found = op, true
		}
	}
	return last
}

// guaranteeOf names the guarantee that the offending answer last breaks.
func guaranteeOf(last Op) string {
	switch {
	case last.Kind == Authenticate && last.Outcome == OK:
		return "revocation holds: an invalidated token was accepted after the invalidation answered"
	case last.Kind == Authenticate:
		return "read-your-writes / no acknowledged write lost: a valid token was refused"
	case last.Kind == Refresh && last.Outcome == OK:
		return "exactly-once refresh: one refresh token gave two pairs, or a pair after its invalidation"
	case last.Kind == Refresh:
		return "refresh refused although the refresh token was neither invalidated nor spent"
	}
	return "no acknowledged write lost: an invalidation did not find a token the cluster issued"
}

// LongestGap is the longest time within [from, to] without a definite
// answer (anything but unavailability) to an op that match accepts.
func LongestGap(ops []Op, from, to time.Duration, match func(Op) bool) time.Duration {
	var times []time.Duration
	for _, op := range ops {
		if match(op) && op.Outcome != Unavailable && op.Return >= from && op.Return <= to {
			times = append(times, op.Return)
		}
	}
	slices.Sort(times)
	longest, prev := time.Duration(0), from
	for _, at := range append(times, to) {
		longest = max(longest, at-prev)
		prev = at
	}
	return longest
}
