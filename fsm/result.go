package fsm

// Status is the outcome of applying a command, in terms the API can turn
// into a response.
type Status uint8

// Outcomes. OK is the zero value.
const (
	// OK: the command took effect.
	OK Status = iota
	// NotFound: the token or user the command names does not exist.
	NotFound
	// Expired: the refresh token is older than RefreshLifetime.
	Expired
	// Invalidated: the refresh token was invalidated.
	Invalidated
	// WrongClient: the refresh token was created by another client.
	WrongClient
	// Retried: the refresh token was spent less than GraceWindow ago; Sealed
	// holds the pair that spend produced.
	Retried
	// Reused: the refresh token was spent more than GraceWindow ago.
	Reused
)

var statusNames = [...]string{"ok", "not_found", "expired", "invalidated", "wrong_client", "retried", "reused"}

// String names the status for logs and metrics.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "unknown"
}

// Result is what Apply returns for one command.
type Result struct {
	Status Status `msgpack:"s"`
	// Sealed is the earlier pair of a Refresh answered with Retried.
	Sealed []byte `msgpack:"sl,omitempty"`
	// User and Realm own the token a Refresh spent, or the one token an
	// Invalidate by token newly invalidated (for the audit trail).
	User  string `msgpack:"u,omitempty"`
	Realm Realm  `msgpack:"r,omitempty"`
	// Invalidated and Previously count the tokens an Invalidate, DeleteUser
	// or SetEnabled(false) newly invalidated and found already invalidated.
	Invalidated int `msgpack:"i,omitempty"`
	Previously  int `msgpack:"pi,omitempty"`
	// Revoked counts the live tokens a Refresh replayed after the grace
	// window invalidated (RevokeOnReplay).
	Revoked int `msgpack:"rv,omitempty"`
	// Created is true when PutUser made a new user.
	Created bool `msgpack:"c,omitempty"`
	// Purged counts the records a Purge removed.
	Purged int `msgpack:"p,omitempty"`
	// Results holds a Batch's results, one per command in order.
	Results []Result `msgpack:"rs,omitempty"`
	// Repeated is set, on this node only, when the command's request ID
	// was applied before: the result is the remembered one and the state
	// did not change (the audit trail writes no second event).
	Repeated bool `msgpack:"-"`
}
