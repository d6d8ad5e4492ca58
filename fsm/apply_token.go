package fsm

import (
	"crypto/sha256"
	"crypto/subtle"
)

// createToken stores a new access token and, if c.Refresh is set, its refresh
// token. A digest that is already stored (a replay under another request ID,
// or a collision) leaves the state untouched: an existing record is never
// overwritten, so no one can take over another holder's token.
//
// The owner must exist, be enabled and belong to the named realm when the
// entry is applied: a user deleted or disabled between the password check and
// this entry gets no token (NotFound), and a later user of the same name can
// never inherit one.
//
// A PasswordCheck or TokenCheck makes the entry re-check the credentials it
// was granted on: a password changed, or a token invalidated or expired,
// since the check gets no token either (NotFound).
func (s *state) createToken(c *CreateToken, now int64) Result {
	u, ok := s.users[c.User]
	if !ok || !u.Enabled || u.Realm.Name != c.Realm.Name || !s.credentialsHold(c, u, now) {
		return Result{Status: NotFound}
	}
	if _, ok := s.access[c.Access]; ok {
		return Result{}
	}
	if !c.Refresh.IsZero() {
		if _, ok := s.refresh[c.Refresh]; ok {
			return Result{}
		}
	}
	s.access[c.Access] = storedAccess{
		owner:   ownerOf(c.User, c.Realm, ""),
		created: now,
		expires: now + c.Lifetime,
		family:  c.Refresh,
	}
	if !c.Refresh.IsZero() {
		s.refresh[c.Refresh] = storedRefresh{
			owner:   ownerOf(c.User, c.Realm, c.Client),
			created: now,
			family:  c.Refresh,
		}
	}
	return Result{}
}

// credentialsHold reports whether the credentials c was granted on are
// still those of user u at now.
func (s *state) credentialsHold(c *CreateToken, u User, now int64) bool {
	if !c.PasswordCheck.IsZero() {
		current := sha256.Sum256(u.Hash)
		if subtle.ConstantTimeCompare(c.PasswordCheck[:], current[:]) != 1 {
			return false
		}
	}
	if !c.TokenCheck.IsZero() {
		a, ok := s.access[c.TokenCheck]
		if !ok || a.invalidated || now >= a.expires {
			return false
		}
	}
	return true
}

// spendRefresh spends the presented refresh token. The checks run in the order the
// contract fixes: existence, 24 h expiry, invalidation, creating client, then
// the used/grace-window rule.
func (s *state) spendRefresh(c *Refresh, now int64) Result {
	r, ok := s.refresh[c.Presented]
	if !ok {
		return Result{Status: NotFound}
	}
	o := r.owner.value()
	switch {
	case now >= r.created+RefreshLifetime:
		return Result{Status: Expired}
	case r.invalidated:
		return Result{Status: Invalidated}
	case o.client != "" && o.client != c.Client:
		return Result{Status: WrongClient}
	case r.usedAt != 0:
		return s.respend(c, r, now)
	}
	r.usedAt = now
	s.refresh[c.Presented] = r
	if c.Sealed != nil {
		s.sealed[c.Presented] = cloneBytes(c.Sealed)
	}
	// The new digests come from crypto/rand on the proposer; if one is
	// somehow taken, the existing record wins (see createToken).
	if _, taken := s.access[c.NewAccess]; !taken {
		s.access[c.NewAccess] = storedAccess{
			owner:      ownerOf(o.user, o.realm, ""),
			created:    now,
			expires:    now + c.Lifetime,
			family:     r.family,
			generation: r.generation + 1,
		}
	}
	if _, taken := s.refresh[c.NewRefresh]; !taken {
		s.refresh[c.NewRefresh] = storedRefresh{
			owner:      r.owner,
			created:    now,
			family:     r.family,
			generation: r.generation + 1,
		}
	}
	return Result{User: o.user, Realm: o.realm}
}

// respend answers a refresh token presented again after it was spent: within
// the grace window with the pair the first spend produced, after it as a
// replay, which (with RevokeOnReplay) invalidates every live token descended
// from the presented one. The presented token and its ancestors are left
// alone: they are spent or expiring already.
func (s *state) respend(c *Refresh, r storedRefresh, now int64) Result {
	if now-r.usedAt <= GraceWindow {
		o := r.owner.value()
		return Result{Status: Retried, Sealed: cloneBytes(s.sealed[c.Presented]), User: o.user, Realm: o.realm}
	}
	res := Result{Status: Reused}
	if c.RevokeOnReplay {
		res.Revoked, _ = s.invalidateTokens(func(_ string, _ Realm, family Digest, gen uint32) bool {
			return family == r.family && gen > r.generation
		})
	}
	return res
}

// purge deletes access token records ExpiredAccessRetention after their
// expiry, refresh token records RecordRetention after their creation, and
// request IDs remembered for longer than DedupRetention. Result.Purged counts
// the token records removed.
func (s *state) purge(now int64) Result {
	purged := 0
	for d, t := range s.access {
		if t.expires+ExpiredAccessRetention <= now {
			delete(s.access, d)
			purged++
		}
	}
	for d, t := range s.refresh {
		if t.created+RecordRetention <= now {
			delete(s.refresh, d)
			delete(s.sealed, d)
			purged++
		}
	}
	for id, a := range s.dedup {
		if now-a.Time > DedupRetention {
			delete(s.dedup, id)
		}
	}
	purged += s.purgeEnrollments(now)
	return Result{Purged: purged}
}
