package credentials

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Errors of a password check that could not run; api answers them 429 and
// 503.
var (
	// ErrBusy refuses a password check that found no bcrypt slot in time.
	ErrBusy = errors.New("credentials: too many password checks in progress")
	// ErrClosed refuses a password check once the node is shutting down
	// (Verifier.Stop).
	ErrClosed = errors.New("credentials: password checks are refused: the node is shutting down")
)

// ErrBadCredentials is what every Rejection is (errors.Is).
var ErrBadCredentials = errors.New("credentials: bad credentials")

// RejectReason is why a password check refused the credentials. It is for
// metrics only: the answer must not tell the reasons apart.
type RejectReason uint8

// Reasons of a Rejection.
const (
	// UnknownUser: no such user.
	UnknownUser RejectReason = iota
	// DisabledUser: the user is disabled.
	DisabledUser
	// WrongPassword: the password is not the user's.
	WrongPassword
)

// Rejection refuses a username and password: a wrong password, or an
// unknown or disabled user. A check compared a bcrypt hash in every case,
// so that timing does not tell them apart.
type Rejection struct {
	Reason RejectReason
}

// Error says the credentials are bad, never why.
func (r *Rejection) Error() string { return ErrBadCredentials.Error() }

// Is makes a Rejection match ErrBadCredentials.
func (r *Rejection) Is(target error) bool { return target == ErrBadCredentials }

// TooManyFailures refuses a check before it runs: its key (a username, a
// client address, a node's address) has failed too often and must wait.
type TooManyFailures struct {
	// Wait is how long until the key may fail again.
	Wait time.Duration
}

// Error gives the wait in whole seconds.
func (e *TooManyFailures) Error() string {
	return fmt.Sprintf("credentials: too many failures; try again in %ds", e.Seconds())
}

// Seconds is Wait rounded up to whole seconds, as Retry-After gives it.
func (e *TooManyFailures) Seconds() int { return int(math.Ceil(e.Wait.Seconds())) }
