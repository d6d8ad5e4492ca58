package faults

import (
	"fmt"
	"sync"
	"time"
)

// Kind is what a recorded request asked for.
type Kind int

// Request kinds.
const (
	Issue             Kind = iota // a password or client_credentials grant
	Authenticate                  // GET /_security/_authenticate with the access token
	Refresh                       // a refresh_token grant
	InvalidateAccess              // DELETE /_security/oauth2/token {"token"}
	InvalidateRefresh             // DELETE /_security/oauth2/token {"refresh_token"}
)

var kindNames = [...]string{"issue", "authenticate", "refresh", "invalidate-access", "invalidate-refresh"}

// String names the kind in reports.
func (k Kind) String() string { return kindNames[k] }

// IsWrite reports whether the kind is a Raft write.
func (k Kind) IsWrite() bool { return k != Authenticate }

// Outcome classifies an answer.
type Outcome int

// Outcomes.
const (
	// Unavailable is a 503, a timeout or a transport error: the request may
	// or may not have taken effect.
	Unavailable      Outcome = iota
	OK                       // 200
	Refused                  // 401 to a token check
	GrantInvalidated         // 400 invalid_grant: the refresh token was invalidated
	GrantReused              // 400 invalid_grant: refreshed more than the grace window ago
	NotFound                 // 404 to an invalidation, or invalid_grant "could not refresh"
	Unexpected               // any other answer
)

var outcomeNames = [...]string{"unavailable", "ok", "refused", "invalidated", "reused", "not-found", "unexpected"}

// String names the outcome in reports.
func (o Outcome) String() string { return outcomeNames[o] }

// Op is one recorded request. Tokens are named by pair numbers, never by
// their secret values.
type Op struct {
	Client int
	Node   string
	Kind   Kind
	// Pair is the token pair the request used (0 for Issue).
	Pair int
	// Result is the pair an Issue or Refresh answered (0 if none).
	Result int
	// Call and Return are the invoke and complete times since the history
	// began.
	Call, Return time.Duration
	Status       int
	Outcome      Outcome
}

// String describes op on one line.
func (op Op) String() string {
	s := fmt.Sprintf("%9.3fs..%9.3fs client %2d %-6s %-18s pair %5d -> %-11s (HTTP %d)",
		op.Call.Seconds(), op.Return.Seconds(), op.Client, op.Node, op.Kind, op.Pair, op.Outcome, op.Status)
	if op.Result != 0 {
		s += fmt.Sprintf(" pair %d", op.Result)
	}
	return s
}

// History records operations from concurrent clients.
type History struct {
	start time.Time
	mu    sync.Mutex
	ops   []Op
}

// NewHistory starts an empty history whose clock starts now.
func NewHistory() *History { return &History{start: time.Now()} }

// Now is the time since the history began.
func (h *History) Now() time.Duration { return time.Since(h.start) }

// Add records op.
func (h *History) Add(op Op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op)
}

// Ops returns a copy of what has been recorded.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.ops...)
}
