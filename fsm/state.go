package fsm

import "maps"

// state is the whole replicated state at one applied index. The FSM owns one
// state and replaces it wholesale on Restore.
//
// Values stored in the maps are never modified in place: a change stores a new
// value under the key, and byte and string slices reachable from a stored
// value are never written after it is stored. A state whose maps were cloned
// is therefore an independent, consistent copy.
type state struct {
	index   uint64
	cluster string
	// clock is the latest time, Unix ms, at which a command took effect
	// (see advance): the log's own clock.
	clock   int64
	access  map[Digest]storedAccess
	refresh map[Digest]storedRefresh
	// sealed holds, for each spent refresh token still stored, the pair its
	// spend produced (Refresh.Sealed), outside the pointer-free records.
	sealed map[Digest][]byte
	users  map[string]User
	roles  map[string]Role
	nodes  map[string]string
	// replicas holds the IDs of the nodes in nodes marked as read
	// replicas (SetNode.Replica).
	replicas map[string]bool
	dedup    map[RequestID]applied
	// enrollments holds the enrollment credentials by digest. They are not
	// in snapshots: a node restored from one knows none, and refuses them.
	enrollments map[Digest]enrollment
}

// newState returns an empty state.
func newState() *state {
	return &state{
		access:      make(map[Digest]storedAccess),
		refresh:     make(map[Digest]storedRefresh),
		sealed:      make(map[Digest][]byte),
		users:       make(map[string]User),
		nodes:       make(map[string]string),
		replicas:    make(map[string]bool),
		roles:       make(map[string]Role),
		dedup:       make(map[RequestID]applied),
		enrollments: make(map[Digest]enrollment),
	}
}

// clone returns a copy of s that later changes to s do not affect. Because
// stored values are immutable, copying the maps is enough.
func (s *state) clone() *state {
	return &state{
		index:       s.index,
		cluster:     s.cluster,
		clock:       s.clock,
		access:      maps.Clone(s.access),
		refresh:     maps.Clone(s.refresh),
		sealed:      maps.Clone(s.sealed),
		users:       maps.Clone(s.users),
		nodes:       maps.Clone(s.nodes),
		replicas:    maps.Clone(s.replicas),
		roles:       maps.Clone(s.roles),
		dedup:       maps.Clone(s.dedup),
		enrollments: maps.Clone(s.enrollments),
	}
}

// tokenMatch selects tokens by owner and lineage for the invalidation helpers.
type tokenMatch func(user string, realm Realm, family Digest, generation uint32) bool

// invalidateTokens marks every access and refresh token selected by match as
// invalidated. It returns how many it newly invalidated and how many were
// invalidated already. It scans every token: invalidation by user, realm or
// family is a rare operation, and an index would have to be cloned with every
// snapshot.
func (s *state) invalidateTokens(match tokenMatch) (newly, previously int) {
	for d, t := range s.access {
		o := t.owner.value()
		if !match(o.user, o.realm, t.family, t.generation) {
			continue
		}
		if t.invalidated {
			previously++
			continue
		}
		t.invalidated = true
		s.access[d] = t
		newly++
	}
	for d, t := range s.refresh {
		o := t.owner.value()
		if !match(o.user, o.realm, t.family, t.generation) {
			continue
		}
		if t.invalidated {
			previously++
			continue
		}
		t.invalidated = true
		s.refresh[d] = t
		newly++
	}
	return newly, previously
}

// ownedBy selects the tokens of the user named username in the realm named
// realm.
func ownedBy(username, realm string) tokenMatch {
	return func(user string, r Realm, _ Digest, _ uint32) bool {
		return user == username && r.Name == realm
	}
}

// cloneBytes returns a copy of b; nil stays nil.
func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// cloneUser returns a deep copy of u.
func cloneUser(u User) User {
	u.Hash = cloneBytes(u.Hash)
	u.Metadata = cloneBytes(u.Metadata)
	if u.Roles != nil {
		u.Roles = append([]string{}, u.Roles...)
	}
	return u
}

// cloneRefresh returns a deep copy of t.
func cloneRefresh(t RefreshToken) RefreshToken {
	t.Sealed = cloneBytes(t.Sealed)
	return t
}
