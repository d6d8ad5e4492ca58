package fsm

// putUser creates or replaces a user. A nil Hash keeps an existing user's
// hash; a zero Realm means NativeRealm, so that the user's tokens can always
// be found by name and realm. Disabling an enabled user this way invalidates
// its tokens, as SetEnabled does.
func (s *state) putUser(c *PutUser) Result {
	u := cloneUser(c.User)
	if u.Realm == (Realm{}) {
		u.Realm = NativeRealm
	}
	old, exists := s.users[u.Username]
	if exists && u.Hash == nil {
		u.Hash = old.Hash
	}
	s.users[u.Username] = u
	res := Result{Created: !exists}
	if exists && old.Enabled && !u.Enabled {
		// The tokens were issued under the old record's realm.
		res.Invalidated, res.Previously = s.invalidateTokens(ownedBy(old.Username, old.Realm.Name))
	}
	return res
}

// deleteUser removes a user and invalidates all of its tokens in the same
// entry, so no replica ever holds live tokens of a deleted user.
func (s *state) deleteUser(c *DeleteUser) Result {
	u, ok := s.users[c.Username]
	if !ok {
		return Result{Status: NotFound}
	}
	delete(s.users, c.Username)
	newly, previously := s.invalidateTokens(ownedBy(u.Username, u.Realm.Name))
	return Result{Invalidated: newly, Previously: previously}
}

// setPassword replaces a user's hash. The user's tokens stay valid, as in
// Elasticsearch.
func (s *state) setPassword(c *SetPassword) Result {
	u, ok := s.users[c.Username]
	if !ok {
		return Result{Status: NotFound}
	}
	u.Hash = cloneBytes(c.Hash)
	s.users[c.Username] = u
	return Result{}
}

// setEnabled enables or disables a user. Disabling invalidates all of the
// user's tokens; it does so even when the user was disabled already, which
// changes nothing unless a token was somehow issued meanwhile.
func (s *state) setEnabled(c *SetEnabled) Result {
	u, ok := s.users[c.Username]
	if !ok {
		return Result{Status: NotFound}
	}
	u.Enabled = c.Enabled
	s.users[c.Username] = u
	if c.Enabled {
		return Result{}
	}
	newly, previously := s.invalidateTokens(ownedBy(u.Username, u.Realm.Name))
	return Result{Invalidated: newly, Previously: previously}
}

// setNode records a node's HTTP address and replica mark, or forgets the
// node when the address is empty.
func (s *state) setNode(c *SetNode) Result {
	if c.HTTPAddr == "" {
		delete(s.nodes, c.NodeID)
		delete(s.replicas, c.NodeID)
		return Result{}
	}
	s.nodes[c.NodeID] = c.HTTPAddr
	if c.Replica {
		s.replicas[c.NodeID] = true
	}
	return Result{}
}

// initCluster records the cluster UUID the first time; later commands leave it
// unchanged.
func (s *state) initCluster(c *InitCluster) Result {
	if s.cluster == "" {
		s.cluster = c.UUID
	}
	return Result{}
}
