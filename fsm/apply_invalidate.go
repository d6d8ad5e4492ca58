package fsm

// invalidate marks the tokens c selects as invalidated. By token it touches
// that one record only (an access token's refresh token and a refresh token's
// access tokens stay as they are, as in Elasticsearch); by user or realm it
// marks every matching access and refresh token, each counting once. An
// unknown selector matches nothing and reports NotFound.
func (s *state) invalidate(c *Invalidate) Result {
	switch c.By {
	case ByAccessToken:
		return s.invalidateAccess(c.Token)
	case ByRefreshToken:
		return s.invalidateRefresh(c.Token)
	case ByRefreshFamily:
		return s.invalidateFamily(c.Token)
	case ByUser:
		newly, previously := s.invalidateTokens(func(user string, realm Realm, _ Digest, _ uint32) bool {
			return user == c.Username && (c.Realm == "" || realm.Name == c.Realm)
		})
		return Result{Invalidated: newly, Previously: previously}
	case ByRealm:
		newly, previously := s.invalidateTokens(func(_ string, realm Realm, _ Digest, _ uint32) bool {
			return realm.Name == c.Realm
		})
		return Result{Invalidated: newly, Previously: previously}
	}
	return Result{Status: NotFound}
}

// invalidateAccess invalidates the access token stored under d.
func (s *state) invalidateAccess(d Digest) Result {
	t, ok := s.access[d]
	switch {
	case !ok:
		return Result{Status: NotFound}
	case t.invalidated:
		return Result{Previously: 1}
	}
	t.invalidated = true
	s.access[d] = t
	o := t.owner.value()
	return Result{Invalidated: 1, User: o.user, Realm: o.realm}
}

// invalidateRefresh invalidates the refresh token stored under d.
func (s *state) invalidateRefresh(d Digest) Result {
	t, ok := s.refresh[d]
	switch {
	case !ok:
		return Result{Status: NotFound}
	case t.invalidated:
		return Result{Previously: 1}
	}
	t.invalidated = true
	s.refresh[d] = t
	o := t.owner.value()
	return Result{Invalidated: 1, User: o.user, Realm: o.realm}
}

// invalidateFamily invalidates the refresh token stored under d and every
// access and refresh token of its grant: those that share its family, of any
// generation. An unknown d reports NotFound.
func (s *state) invalidateFamily(d Digest) Result {
	t, ok := s.refresh[d]
	if !ok {
		return Result{Status: NotFound}
	}
	newly, previously := s.invalidateTokens(func(_ string, _ Realm, family Digest, _ uint32) bool {
		return family == t.family
	})
	return Result{Invalidated: newly, Previously: previously}
}
