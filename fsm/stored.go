package fsm

// The state stores tokens in compact forms of AccessToken and RefreshToken,
// because at a million tokens every byte of a map slot costs about two bytes
// of heap (a Go map runs between 7/16 and 7/8 full). The strings that say
// who owns a token are the same for all of a user's tokens, so they are
// interned once behind an owner handle instead of being held by every record
// (and allocated afresh by every decoded command). Records hold no pointers
// (owners.go), so the garbage collector never scans the token maps. The
// exported types are what readers and the snapshot format see; the
// conversions below are exact.

// owner is who holds a token: the user, the realm, and for a refresh token
// the client allowed to spend it.
type owner struct {
	user   string
	realm  Realm
	client string
}

// ownerOf returns the ID of an owner; equal owners have equal IDs.
func ownerOf(user string, realm Realm, client string) ownerID {
	return owners.intern(owner{user: user, realm: realm, client: client})
}

// storedAccess is the state's form of an AccessToken (64 bytes).
type storedAccess struct {
	owner       ownerID
	created     int64
	expires     int64
	family      Digest
	generation  uint32
	invalidated bool
}

// storedRefresh is the state's form of a RefreshToken (64 bytes). The sealed
// pair a spend produced is a byte slice, so it is kept apart, in the state's
// sealed map, to keep this record free of pointers.
type storedRefresh struct {
	owner       ownerID
	created     int64
	usedAt      int64 // when the token was spent; 0 if it was not
	family      Digest
	generation  uint32
	invalidated bool
}

// storeAccess returns the stored form of t.
func storeAccess(t AccessToken) storedAccess {
	return storedAccess{
		owner:       ownerOf(t.User, t.Realm, ""),
		created:     t.Created,
		expires:     t.Expires,
		family:      t.Family,
		generation:  t.Generation,
		invalidated: t.Invalidated,
	}
}

// export returns the AccessToken that t stores.
func (t storedAccess) export() AccessToken {
	o := t.owner.value()
	return AccessToken{
		User:        o.user,
		Realm:       o.realm,
		Created:     t.created,
		Expires:     t.expires,
		Invalidated: t.invalidated,
		Family:      t.family,
		Generation:  t.generation,
	}
}

// storeRefresh returns the stored form of t; t.Sealed goes to the state's
// sealed map.
func storeRefresh(t RefreshToken) storedRefresh {
	return storedRefresh{
		owner:       ownerOf(t.User, t.Realm, t.Client),
		created:     t.Created,
		usedAt:      t.UsedAt,
		family:      t.Family,
		generation:  t.Generation,
		invalidated: t.Invalidated,
	}
}

// export returns the RefreshToken that t stores, with sealed, the pair its
// spend produced, as its Sealed. sealed is shared with the state: callers
// outside the package get a copy (cloneRefresh).
func (t storedRefresh) export(sealed []byte) RefreshToken {
	o := t.owner.value()
	return RefreshToken{
		User:        o.user,
		Realm:       o.realm,
		Created:     t.created,
		Invalidated: t.invalidated,
		Client:      o.client,
		UsedAt:      t.usedAt,
		Sealed:      sealed,
		Family:      t.family,
		Generation:  t.generation,
	}
}
