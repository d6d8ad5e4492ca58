package fsm

import (
	"maps"
	"slices"
	"strings"
)

// Counts is the number of records of each kind in the state, for metrics.
type Counts struct {
	AccessTokens  int
	RefreshTokens int
	Users         int
	// Requests is the number of request IDs remembered for deduplication.
	Requests int
}

// AppliedIndex returns the index of the last log entry applied, or the index
// of the snapshot last restored if no entry was applied since.
func (f *FSM) AppliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.index
}

// LastTime returns the log's clock: the latest time, Unix milliseconds, at
// which an applied command took effect (0 before the first). Commands
// stamped earlier than it take effect at it, so it never decreases while
// entries are applied, and a snapshot restores it.
func (f *FSM) LastTime() int64 {
	return f.clock.Load()
}

// AccessToken returns a copy of the access token record stored under d. It
// reports expired and invalidated records as they are: deciding whether a
// token is usable is the caller's job.
func (f *FSM) AccessToken(d Digest) (AccessToken, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	t, ok := f.s.access[d]
	if !ok {
		return AccessToken{}, false
	}
	return t.export(), true
}

// RefreshToken returns a copy of the refresh token record stored under d.
func (f *FSM) RefreshToken(d Digest) (RefreshToken, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	t, ok := f.s.refresh[d]
	if !ok {
		return RefreshToken{}, false
	}
	return cloneRefresh(t.export(f.s.sealed[d])), true
}

// User returns a copy of the user named name.
func (f *FSM) User(name string) (User, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	u, ok := f.s.users[name]
	if !ok {
		return User{}, false
	}
	return cloneUser(u), true
}

// SharedUser returns the user named name without copying it: its Hash,
// Roles and Metadata share memory with the state, which never writes them
// after they are stored (see state). The caller must not modify them. It is
// for hot read-only paths such as authentication, where User's copies cost
// more than the lookup.
func (f *FSM) SharedUser(name string) (User, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	u, ok := f.s.users[name]
	return u, ok
}

// Users returns copies of all users, sorted by username.
func (f *FSM) Users() []User {
	f.mu.RLock()
	users := make([]User, 0, len(f.s.users))
	for _, u := range f.s.users {
		users = append(users, cloneUser(u))
	}
	f.mu.RUnlock()
	slices.SortFunc(users, func(a, b User) int { return strings.Compare(a.Username, b.Username) })
	return users
}

// NodeAddr returns the HTTP address recorded for the node with the given ID.
func (f *FSM) NodeAddr(id string) (string, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	addr, ok := f.s.nodes[id]
	return addr, ok
}

// Nodes returns a copy of the node ID to HTTP address map.
func (f *FSM) Nodes() map[string]string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return maps.Clone(f.s.nodes)
}

// IsReplica reports whether the node with the given ID is marked as a read
// replica (SetNode.Replica): a non-voter that must never be promoted.
func (f *FSM) IsReplica(id string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.replicas[id]
}

// ClusterUUID returns the cluster's identity, or "" before InitCluster.
func (f *FSM) ClusterUUID() string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.cluster
}

// Counts returns the number of records of each kind.
func (f *FSM) Counts() Counts {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return Counts{
		AccessTokens:  len(f.s.access),
		RefreshTokens: len(f.s.refresh),
		Users:         len(f.s.users),
		Requests:      len(f.s.dedup),
	}
}
