package fsm

import (
	"cmp"
	"encoding/binary"
	"errors"
	"slices"
)

// Token records are most of a snapshot, so they are encoded and decoded by
// hand (msgpack_codec.go) rather than by reflection. The layout is the one
// msgpack/v5 gives the reference types accessRecord and refreshRecord:
//
//	access:  {"d": digest, "t": {"u", "rl": {"n", "t"}, "c", "x", "i", "f", "g"}}
//	refresh: {"d": digest, "t": {"u", "rl": {"n", "t"}, "c", "i", "cl", "f", "g", "ua", "s"}}

// accessEntry and refreshEntry are a token and its key, as a View holds them.
type (
	accessEntry struct {
		d Digest
		t storedAccess
	}
	refreshEntry struct {
		d Digest
		t storedRefresh
	}
)

// appendAccess appends the snapshot record of the access token t stored
// under d.
func appendAccess(b []byte, d Digest, t storedAccess) []byte {
	o := t.owner.value()
	b = append(b, 0x82)
	b = appendBytes(appendString(b, "d"), d[:])
	b = appendMapLen(appendString(b, "t"), 7)
	b = appendOwner(b, o)
	b = appendInt(appendString(b, "c"), t.created)
	b = appendInt(appendString(b, "x"), t.expires)
	b = appendBool(appendString(b, "i"), t.invalidated)
	b = appendBytes(appendString(b, "f"), t.family[:])
	return appendUint(appendString(b, "g"), uint64(t.generation))
}

// appendRefresh appends the snapshot record of the refresh token t stored
// under d, whose spend sealed the pair sealed (nil if none).
func appendRefresh(b []byte, d Digest, t storedRefresh, sealed []byte) []byte {
	o := t.owner.value()
	b = append(b, 0x82)
	b = appendBytes(appendString(b, "d"), d[:])
	b = appendMapLen(appendString(b, "t"), 9)
	b = appendOwner(b, o)
	b = appendInt(appendString(b, "c"), t.created)
	b = appendBool(appendString(b, "i"), t.invalidated)
	b = appendString(appendString(b, "cl"), o.client)
	b = appendBytes(appendString(b, "f"), t.family[:])
	b = appendUint(appendString(b, "g"), uint64(t.generation))
	b = appendInt(appendString(b, "ua"), t.usedAt)
	return appendBytes(appendString(b, "s"), sealed)
}

// appendOwner appends the "u" and "rl" fields of a token record.
func appendOwner(b []byte, o owner) []byte {
	b = appendString(appendString(b, "u"), o.user)
	b = appendMapLen(appendString(b, "rl"), 2)
	b = appendString(appendString(b, "n"), o.realm.Name)
	return appendString(appendString(b, "t"), o.realm.Type)
}

// tokenFields is a decoded token record. Byte slices are views of the body.
type tokenFields struct {
	digest                             Digest
	user, realmName, realmType, client []byte
	created, expires, usedAt           int64
	invalidated                        bool
	family                             Digest
	generation                         uint32
	sealed                             []byte
}

// errUnknownField reports a field that the record's kind does not have.
var errUnknownField = errors.New("unknown field")

// decodeToken decodes an access (refresh false) or refresh token record.
// Fields may come in any order and missing ones are zero, as with
// reflection; a field the kind does not have, or a byte after the record,
// is an error.
func decodeToken(body []byte, refresh bool) (tokenFields, error) {
	var f tokenFields
	r := mpReader{b: body}
	for i, n := 0, r.mapLen(); i < n && r.err == nil; i++ {
		switch string(r.str()) {
		case "d":
			f.digest = r.digest()
		case "t":
			f.decodeToken(&r, refresh)
		default:
			return f, errUnknownField
		}
	}
	return f, r.end()
}

// decodeToken decodes the "t" map of a token record into f.
func (f *tokenFields) decodeToken(r *mpReader, refresh bool) {
	for i, n := 0, r.mapLen(); i < n && r.err == nil; i++ {
		key := r.str()
		switch string(key) {
		case "u":
			f.user = r.str()
		case "rl":
			f.decodeRealm(r)
		case "c":
			f.created = r.int()
		case "i":
			f.invalidated = r.bool()
		case "f":
			f.family = r.digest()
		case "g":
			f.generation = r.uint32()
		default:
			f.decodeKindField(r, key, refresh)
		}
	}
}

// decodeKindField decodes a field that only one kind of token has.
func (f *tokenFields) decodeKindField(r *mpReader, key []byte, refresh bool) {
	switch k := string(key); {
	case k == "x" && !refresh:
		f.expires = r.int()
	case k == "cl" && refresh:
		f.client = r.str()
	case k == "ua" && refresh:
		f.usedAt = r.int()
	case k == "s" && refresh:
		f.sealed = r.bytes()
	default:
		r.fail("%v %q", errUnknownField, key)
	}
}

// decodeRealm decodes the "rl" map of a token record into f.
func (f *tokenFields) decodeRealm(r *mpReader) {
	for i, n := 0, r.mapLen(); i < n && r.err == nil; i++ {
		switch key := r.str(); string(key) {
		case "n":
			f.realmName = r.str()
		case "t":
			f.realmType = r.str()
		default:
			r.fail("%v %q in realm", errUnknownField, key)
		}
	}
}

// ownerCache interns the owners of restored tokens. A snapshot holds few
// distinct owners and many tokens, so most records find their owner here
// by its encoded bytes, without allocating a string.
type ownerCache struct {
	ids map[string]ownerID
	key []byte
}

// owner returns the ID of the owner f names.
func (c *ownerCache) owner(f *tokenFields) ownerID {
	k := c.key[:0]
	for _, p := range [...][]byte{f.user, f.realmName, f.realmType, f.client} {
		k = append(binary.AppendUvarint(k, uint64(len(p))), p...)
	}
	c.key = k
	if id, ok := c.ids[string(k)]; ok {
		return id
	}
	if c.ids == nil {
		c.ids = make(map[string]ownerID)
	}
	id := ownerOf(string(f.user), Realm{Name: string(f.realmName), Type: string(f.realmType)}, string(f.client))
	c.ids[string(k)] = id
	return id
}

// access returns the stored access token f holds.
func (c *ownerCache) access(f *tokenFields) storedAccess {
	f.client = nil // access tokens have no client; the field is refused anyway
	return storedAccess{
		owner:       c.owner(f),
		created:     f.created,
		expires:     f.expires,
		family:      f.family,
		generation:  f.generation,
		invalidated: f.invalidated,
	}
}

// refresh returns the stored refresh token f holds; its sealed pair is
// f.sealed, which the caller copies out of the record body if it keeps it.
func (c *ownerCache) refresh(f *tokenFields) storedRefresh {
	return storedRefresh{
		owner:       c.owner(f),
		created:     f.created,
		usedAt:      f.usedAt,
		family:      f.family,
		generation:  f.generation,
		invalidated: f.invalidated,
	}
}

// digestOrder is a token's place in the snapshot: the first 8 bytes of its
// digest, for a comparison that is mostly one integer compare, and its
// position in the View's slice.
type digestOrder struct {
	prefix uint64
	i      int
}

// sortedOrder returns the positions of n keys, which key returns, in byte
// order of the keys. Sorting 16-byte positions moves far less memory than
// sorting the entries.
func sortedOrder(n int, key func(i int) *Digest) []digestOrder {
	order := make([]digestOrder, n)
	for i := range order {
		order[i] = digestOrder{prefix: binary.BigEndian.Uint64(key(i)[:8]), i: i}
	}
	slices.SortFunc(order, func(a, b digestOrder) int {
		if c := cmp.Compare(a.prefix, b.prefix); c != 0 {
			return c
		}
		ka, kb := key(a.i), key(b.i)
		return slices.Compare(ka[8:], kb[8:])
	})
	return order
}
