package fsm

import (
	"crypto/sha256"
	"time"
)

// Digest is the SHA-256 of a token string: the only form in which tokens are
// stored.
type Digest [32]byte

// DigestOf returns the digest under which token is stored.
func DigestOf(token string) Digest { return sha256.Sum256([]byte(token)) }

// IsZero reports whether d is the zero digest ("no token").
func (d Digest) IsZero() bool { return d == Digest{} }

// Lifetimes and retention, in milliseconds like every time in the state.
const (
	// RefreshLifetime: a refresh token can be used up to 24 h after its own
	// creation.
	RefreshLifetime = int64(24 * time.Hour / time.Millisecond)
	// GraceWindow: a spent refresh token presented again within 30 s of its
	// use returns the same pair.
	GraceWindow = int64(30 * time.Second / time.Millisecond)
	// RecordRetention: refresh token records are purged this long after
	// creation, when they can no longer be used.
	RecordRetention = RefreshLifetime
	// ExpiredAccessRetention: access token records are purged this long
	// after they expire. Until then a client presenting one hears "token
	// expired" rather than an unknown token; after it the record has no use,
	// so the state holds about (issue rate x (timeout + 5 min)) access
	// records under steady load instead of a day's worth.
	ExpiredAccessRetention = int64(5 * time.Minute / time.Millisecond)
	// DedupRetention: request IDs are remembered this long, far longer than
	// any proposal retry.
	DedupRetention = int64(2 * time.Minute / time.Millisecond)
)

// User is a user of the native or reserved realm.
type User struct {
	Username string   `msgpack:"n" json:"username"`
	Hash     []byte   `msgpack:"h" json:"-"`
	Roles    []string `msgpack:"r" json:"roles"`
	FullName string   `msgpack:"f" json:"full_name"`
	Email    string   `msgpack:"e" json:"email"`
	// Metadata is the user's metadata object as JSON.
	Metadata []byte `msgpack:"m" json:"-"`
	Enabled  bool   `msgpack:"en" json:"enabled"`
	Realm    Realm  `msgpack:"rl" json:"-"`
}

// AccessToken is the stored record of an access token.
type AccessToken struct {
	User        string `msgpack:"u"`
	Realm       Realm  `msgpack:"rl"`
	Created     int64  `msgpack:"c"`
	Expires     int64  `msgpack:"x"`
	Invalidated bool   `msgpack:"i"`
	// Family is the digest of the first refresh token of the grant the token
	// descends from (zero for access-only tokens); Generation counts the
	// refreshes since that grant.
	Family     Digest `msgpack:"f"`
	Generation uint32 `msgpack:"g"`
}

// RefreshToken is the stored record of a refresh token.
type RefreshToken struct {
	User        string `msgpack:"u"`
	Realm       Realm  `msgpack:"rl"`
	Created     int64  `msgpack:"c"`
	Invalidated bool   `msgpack:"i"`
	Client      string `msgpack:"cl"`
	Family      Digest `msgpack:"f"`
	Generation  uint32 `msgpack:"g"`
	// UsedAt is when the token was spent (0: not yet); Sealed is the pair
	// that spend produced, encrypted under a key derived from this token.
	UsedAt int64  `msgpack:"ua"`
	Sealed []byte `msgpack:"s"`
}

// Expires is when the refresh token stops being usable.
func (r RefreshToken) Expires() int64 { return r.Created + RefreshLifetime }

// applied remembers the result of a request ID for deduplication.
type applied struct {
	Time   int64  `msgpack:"t"`
	Result Result `msgpack:"r"`
}
