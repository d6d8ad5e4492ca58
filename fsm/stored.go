package fsm

import "unique"

// The state stores tokens in compact forms of AccessToken and RefreshToken,
// because at a million tokens every byte of a map slot costs about two bytes
// of heap (a Go map runs between 7/16 and 7/8 full). The strings that say
// who owns a token are the same for all of a user's tokens, so they are
// interned once behind an owner handle instead of being held by every record
// (and allocated afresh by every decoded command). The exported types are
// what readers and the snapshot format see; the conversions below are exact.

// owner is who holds a token: the user, the realm, and for a refresh token
// the client allowed to spend it.
type owner struct {
	user   string
	realm  Realm
	client string
}

// ownerOf returns the interned handle of an owner. Handles of equal owners
// are equal, and an owner no token refers to any more is dropped by the
// garbage collector.
func ownerOf(user string, realm Realm, client string) unique.Handle[owner] {
	return unique.Make(owner{user: user, realm: realm, client: client})
}

// storedAccess is the state's form of an AccessToken (64 bytes).
type storedAccess struct {
	owner       unique.Handle[owner]
	created     int64
	expires     int64
	family      Digest
	generation  uint32
	invalidated bool
}

// storedRefresh is the state's form of a RefreshToken (64 bytes). Spending a
// token is rare next to holding one, so what the spend recorded lives behind
// a pointer that is nil until then.
type storedRefresh struct {
	owner       unique.Handle[owner]
	created     int64
	family      Digest
	generation  uint32
	invalidated bool
	spent       *spend
}

// spend is what spending a refresh token recorded: when, and the sealed pair
// it produced. Like every stored value it is never modified once stored.
type spend struct {
	at     int64
	sealed []byte
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
	o := t.owner.Value()
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

// storeRefresh returns the stored form of t. It shares t.Sealed, which the
// caller must not modify afterwards.
func storeRefresh(t RefreshToken) storedRefresh {
	r := storedRefresh{
		owner:       ownerOf(t.User, t.Realm, t.Client),
		created:     t.Created,
		family:      t.Family,
		generation:  t.Generation,
		invalidated: t.Invalidated,
	}
	if t.UsedAt != 0 || t.Sealed != nil {
		r.spent = &spend{at: t.UsedAt, sealed: t.Sealed}
	}
	return r
}

// export returns the RefreshToken that t stores. Sealed is shared with the
// state: callers outside the package get a copy (cloneRefresh).
func (t storedRefresh) export() RefreshToken {
	o := t.owner.Value()
	r := RefreshToken{
		User:        o.user,
		Realm:       o.realm,
		Created:     t.created,
		Invalidated: t.invalidated,
		Client:      o.client,
		Family:      t.family,
		Generation:  t.generation,
	}
	if t.spent != nil {
		r.UsedAt, r.Sealed = t.spent.at, t.spent.sealed
	}
	return r
}

// usedAt is when the token was spent, 0 if it was not.
func (t storedRefresh) usedAt() int64 {
	if t.spent == nil {
		return 0
	}
	return t.spent.at
}
