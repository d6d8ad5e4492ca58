package faults

import (
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"
)

// tokenState is the model's state of one token pair: an access token, its
// refresh token (if any) and the pair the refresh token was spent for.
type tokenState struct {
	access, refresh revocation
	// child is the pair the refresh token was spent for: 0 while unspent,
	// spentUnknown after a refresh whose answer was lost.
	child int
}

// spentUnknown marks a refresh token spent for a pair no client saw.
const spentUnknown = -1

// revocation is how far a token's invalidation has gone.
type revocation uint8

const (
	live revocation = iota
	// revoking: an invalidation has taken effect somewhere but has not
	// been answered yet; token checks may go either way.
	revoking
	revoked
)

// step is one model operation, derived from a recorded Op.
type step int

const (
	stepAuth step = iota
	stepRefresh
	stepRevokeAccess      // an invalidation taking effect (strict model: and holding)
	stepRevokeAccessHolds // the invalidation answered: it holds from here on
	stepRevokeRefresh
	stepRevokeRefreshHolds
	// stepImpossible is an answer no state allows: an invalidation that
	// does not find a token the cluster issued.
	stepImpossible
)

// modelInput is a porcupine operation's input.
type modelInput struct {
	step step
	op   Op
}

// Model returns the per-pair model. In the documented model an invalidation
// takes effect at some point between its invoke and complete times and
// holds from its answer on, while token checks concurrent with it may still
// see the token (a follower that has not applied it yet): the guarantee of
// docs/guarantees.md. The strict model is plain linearizability: a token
// check that has seen an invalidation is never followed by one that does
// not.
func Model(strict bool) porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Init: func() []any { return []any{tokenState{}} },
		Step: func(state, input, _ any) []any {
			return apply(state.(tokenState), input.(modelInput), strict)
		},
		DescribeOperation: func(input, _ any) string { return input.(modelInput).op.String() },
		DescribeState:     func(state any) string { return fmt.Sprintf("%+v", state.(tokenState)) },
	}
	return nm.ToModel()
}

// apply returns the states s may move to by in, none if in is illegal in s.
func apply(s tokenState, in modelInput, strict bool) []any {
	op := in.op
	switch in.step {
	case stepAuth:
		if (op.Outcome == OK && s.access == revoked) || (op.Outcome == Refused && s.access == live) {
			return nil
		}
		return []any{s}
	case stepRevokeAccess, stepRevokeRefresh:
		to := revoking
		if strict {
			to = revoked
		}
		if in.step == stepRevokeAccess {
			s.access = max(s.access, to)
		} else {
			s.refresh = max(s.refresh, to)
		}
		return []any{s}
	case stepRevokeAccessHolds:
		s.access = revoked
		return []any{s}
	case stepRevokeRefreshHolds:
		s.refresh = revoked
		return []any{s}
	case stepImpossible:
		return nil
	}
	return applyRefresh(s, op)
}

// applyRefresh is the refresh step: one new pair per refresh token, the
// same pair to every retry, none once the refresh token is revoked.
func applyRefresh(s tokenState, op Op) []any {
	switch op.Outcome {
	case OK:
		if s.refresh == revoked || (s.child > 0 && s.child != op.Result) {
			return nil
		}
		s.child = op.Result
		return []any{s}
	case GrantInvalidated:
		if s.refresh == live {
			return nil
		}
		return []any{s}
	case GrantReused:
		if s.child == 0 {
			return nil
		}
		return []any{s}
	case Unavailable, Unexpected:
		out := []any{s}
		if s.refresh != revoked && s.child == 0 {
			spent := s
			spent.child = spentUnknown
			out = append(out, spent)
		}
		return out
	}
	return nil
}

// unknownEffect reports whether op may or may not have taken effect: no
// answer, a 503, or an answer the contract does not know (which the checker
// reports on its own).
func unknownEffect(op Op) bool { return op.Outcome == Unavailable || op.Outcome == Unexpected }

// modelOps turns the recorded ops of one pair into porcupine operations.
// Ops whose effect is unknown never complete (they may take effect at any
// time after their call); never is a time after the whole history.
func modelOps(ops []Op, strict bool, never time.Duration) []porcupine.Operation {
	ops = firstUnknownOnly(ops)
	var out []porcupine.Operation
	add := func(st step, op Op, call, ret time.Duration) {
		out = append(out, porcupine.Operation{ClientId: op.Client, Input: modelInput{step: st, op: op},
			Call: int64(call), Return: int64(ret)})
	}
	for _, op := range ops {
		ret := op.Return
		if unknownEffect(op) {
			ret = never
		}
		switch op.Kind {
		case Authenticate:
			if op.Outcome == OK || op.Outcome == Refused {
				add(stepAuth, op, op.Call, ret)
			}
		case Refresh:
			add(stepRefresh, op, op.Call, ret)
		case InvalidateAccess, InvalidateRefresh:
			addRevoke(add, op, ret, strict)
		}
	}
	return out
}

// firstUnknownOnly keeps, of the ops of each kind whose effect is unknown,
// the one invoked first: it may take effect at any time the others may, and
// their effects are the same and idempotent (spend the refresh token if it
// is still unspent; invalidate). This bounds the ops that never complete,
// which the checker's search would otherwise have to order against
// everything after them.
func firstUnknownOnly(ops []Op) []Op {
	first := map[Kind]int{}
	for i, op := range ops {
		if !unknownEffect(op) || op.Kind == Authenticate || op.Kind == Issue {
			continue
		}
		if j, ok := first[op.Kind]; !ok || op.Call < ops[j].Call {
			first[op.Kind] = i
		}
	}
	out := make([]Op, 0, len(ops))
	for i, op := range ops {
		if !unknownEffect(op) || op.Kind == Authenticate || op.Kind == Issue || first[op.Kind] == i {
			out = append(out, op)
		}
	}
	return out
}

// addRevoke adds an invalidation: its effect, and unless strict (where the
// effect is the whole story) the point where it holds, its answer.
func addRevoke(add func(step, Op, time.Duration, time.Duration), op Op, ret time.Duration, strict bool) {
	effect, holds := stepRevokeAccess, stepRevokeAccessHolds
	if op.Kind == InvalidateRefresh {
		effect, holds = stepRevokeRefresh, stepRevokeRefreshHolds
	}
	if op.Outcome == NotFound {
		add(stepImpossible, op, op.Call, ret)
		return
	}
	add(effect, op, op.Call, ret)
	if !strict && op.Outcome == OK {
		add(holds, op, op.Return+1, op.Return+1)
	}
}
