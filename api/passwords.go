package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
)

// Answers to a password check that did not run.
var (
	// errBcryptBusy refuses a password check that found no bcrypt slot in
	// time (credentials.ErrBusy).
	errBcryptBusy = &esError{status: http.StatusTooManyRequests, typ: "es_rejected_execution_exception",
		reason: "too many password checks in progress", retry: true}
	// errGateClosed refuses a password check once the node is shutting
	// down (credentials.ErrClosed).
	errGateClosed = unavailable("node_closed_exception", "node is shutting down")
)

// rejectionFailures is the tokend_auth_failures_total reason of each
// credentials.RejectReason.
var rejectionFailures = map[credentials.RejectReason]authFailure{
	credentials.UnknownUser:   failUnknown,
	credentials.DisabledUser:  failDisabled,
	credentials.WrongPassword: failBadPassword,
}

// checkPassword verifies a username and password sent with r
// (credentials.Verifier.Check), charging failures to the client's address
// (clientAddr), and counts the outcome. A wrong password or an unknown or
// disabled user is credentials.ErrBadCredentials, which the caller words as
// its 401; a check that could not run gets its 429 or 503 here.
func (s *gate) checkPassword(r *http.Request, name, password string) (fsm.User, error) {
	u, err := s.passwords.Check(r.Context(), name, password, clientAddr(r))
	if err == nil {
		return u, nil
	}
	var rejected *credentials.Rejection
	var limited *credentials.TooManyFailures
	switch {
	case errors.As(err, &rejected):
		s.meter.authFailed(rejectionFailures[rejected.Reason])
	case errors.As(err, &limited):
		// The username or the address was out of failure budget, before
		// this check or its comparison (or that of an identical check it
		// joined) was to run.
		s.meter.authRefused(refusedRateLimited)
		return u, tooManyFailures(limited)
	case errors.Is(err, credentials.ErrBusy):
		s.meter.authRefused(refusedBcryptBusy)
		return u, errBcryptBusy
	case errors.Is(err, credentials.ErrClosed):
		return u, errGateClosed
	}
	return u, err
}

// tooManyFailures is the 429 for a username or client address that must
// wait before it may fail again.
func tooManyFailures(e *credentials.TooManyFailures) error {
	secs := e.Seconds()
	return &esError{status: http.StatusTooManyRequests, typ: "es_rejected_execution_exception",
		reason: fmt.Sprintf("too many failed authentication attempts; try again in %ds", secs),
		retry:  true, retryAfter: secs}
}

// RefusePasswordChecks makes every password check still waiting for a
// bcrypt slot or for its comparison, and every later one, answer 503 at
// once. The node calls it when it starts to shut down, so that draining the
// requests in flight does not wait for a queue of password checks.
func (s *Server) RefusePasswordChecks() { s.gate.passwords.Stop() }
