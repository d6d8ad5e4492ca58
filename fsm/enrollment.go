package fsm

// Enrollment commands. Their types carry IgnorableFlag: a replica of an
// older build skips them, and only the leader's state decides a join.
const (
	TypeCreateEnrollment  Type = IgnorableFlag | 20
	TypeConsumeEnrollment Type = IgnorableFlag | 21
)

// CreateEnrollment records a one-time enrollment credential by its SHA-256
// digest (the credential itself is never in the log) and when it expires.
type CreateEnrollment struct {
	Meta
	Digest Digest `msgpack:"d"`
	// Expires is the Unix millisecond after which the credential is refused.
	Expires int64 `msgpack:"x"`
}

// ConsumeEnrollment spends the enrollment credential whose digest is
// Digest, at the command's time: Result.Status is OK the first time, Reused
// after, Expired past its expiry and NotFound for an unknown one.
type ConsumeEnrollment struct {
	Meta
	Digest Digest `msgpack:"d"`
}

// Type implementations.
func (*CreateEnrollment) Type() Type  { return TypeCreateEnrollment }
func (*ConsumeEnrollment) Type() Type { return TypeConsumeEnrollment }

// enrollment is an outstanding or spent enrollment credential.
type enrollment struct {
	expires int64
	used    bool
}

// createEnrollment records c's credential, unused.
func (s *state) createEnrollment(c *CreateEnrollment) Result {
	s.enrollments[c.Digest] = enrollment{expires: c.Expires}
	return Result{}
}

// consumeEnrollment spends c's credential at now, once.
func (s *state) consumeEnrollment(c *ConsumeEnrollment, now int64) Result {
	e, ok := s.enrollments[c.Digest]
	switch {
	case !ok:
		return Result{Status: NotFound}
	case e.used:
		return Result{Status: Reused}
	case now > e.expires:
		return Result{Status: Expired}
	}
	e.used = true
	s.enrollments[c.Digest] = e
	return Result{}
}

// purgeEnrollments forgets the enrollment credentials expired at now, spent
// or not; one that is no longer known is refused all the same.
func (s *state) purgeEnrollments(now int64) int {
	n := 0
	for d, e := range s.enrollments {
		if now > e.expires {
			delete(s.enrollments, d)
			n++
		}
	}
	return n
}

// EnrollmentStatus is the status the enrollment credential with digest d
// has at now (Unix ms), as ConsumeEnrollment would find it: a follower's
// check before it forwards a join, which the leader's ConsumeEnrollment
// decides.
func (f *FSM) EnrollmentStatus(d Digest, now int64) Status {
	f.mu.RLock()
	defer f.mu.RUnlock()
	e, ok := f.s.enrollments[d]
	switch {
	case !ok:
		return NotFound
	case e.used:
		return Reused
	case now > e.expires:
		return Expired
	}
	return OK
}
