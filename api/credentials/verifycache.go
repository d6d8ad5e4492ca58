package credentials

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"hash"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Bounds of the password verification cache.
const (
	verifyTTL     = 20 * time.Minute // Elasticsearch's realm cache default
	verifyMaxSize = 10000
)

// verifyCache remembers recent successful bcrypt checks, as Elasticsearch's
// realm cache does: clients using Basic authentication send it on every
// request, and one bcrypt comparison at cost 10 takes tens of milliseconds
// of CPU. An entry holds an HMAC of the password under a key that exists only
// in this process's memory, never the password, and is bound to the stored
// hash it was checked against, so a password change ends it. A hit is only
// possible with the right password, so its speed tells an attacker nothing.
// When it is full, the user least recently seen goes first: the users
// checking now keep their entries, instead of every user paying a bcrypt
// comparison again at once.
type verifyCache struct {
	key     []byte
	gate    *bcryptGate // every bcrypt comparison waits for a slot here
	flights *verifyFlights
	macs    sync.Pool // of *passwordHasher keyed with key
	m       *lru.Cache[string, verifyEntry]
}

// verifyEntry is one remembered successful check.
type verifyEntry struct {
	hash  []byte // the stored hash, shared with the state and never modified
	mac   [sha256.Size]byte
	until time.Time
}

// newVerifyCache returns an empty cache of at most size users (at least 1).
func newVerifyCache(gate *bcryptGate, size int) *verifyCache {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	m, _ := lru.New[string, verifyEntry](max(1, size)) // errs only for a size below 1
	return &verifyCache{key: key, gate: gate, flights: newVerifyFlights(), m: m}
}

// check reports whether password matches the bcrypt hash stored for name;
// it fails only if reserve refuses or the comparison could not run
// (bcryptGate.compare). Identical checks in progress at the same time share
// one comparison (verifyFlights). reserve, unless nil, is called right
// before a comparison runs, and a comparison runs only if it succeeds.
func (c *verifyCache) check(ctx context.Context, name string, hash []byte, password string, reserve func() error) (bool, error) {
	sum := c.passwordMAC(password)
	now := time.Now()
	if c.hit(name, hash, sum, now) {
		return true, nil
	}
	return c.flights.do(ctx, flightKeyOf(name, hash, sum), func() (bool, error) {
		if reserve != nil {
			if err := reserve(); err != nil {
				return false, err
			}
		}
		if ok, err := c.gate.compare(ctx, hash, password); !ok || err != nil {
			return false, err
		}
		c.m.Add(name, verifyEntry{hash: hash, mac: sum, until: now.Add(verifyTTL)})
		return true, nil
	})
}

// remembers reports whether a check of password against hash for name
// succeeded within verifyTTL, without running bcrypt. Only
// Verifier.matches calls check, and only with a hash that passed
// verifiable (the user's own or a dummy), so a remembered hash needs no
// second look.
func (c *verifyCache) remembers(name string, hash []byte, password string) bool {
	return c.hit(name, hash, c.passwordMAC(password), time.Now())
}

// hit reports whether the entry for name, live at now, was made for hash
// and the password whose MAC is sum.
func (c *verifyCache) hit(name string, hash []byte, sum [sha256.Size]byte, now time.Time) bool {
	e, ok := c.m.Get(name)
	return ok && now.Before(e.until) && subtle.ConstantTimeCompare(e.hash, hash) == 1 && subtle.ConstantTimeCompare(e.mac[:], sum[:]) == 1
}

// passwordHasher is an HMAC state kept between checks, since keying a new
// one costs several allocations on every Basic request.
type passwordHasher struct {
	mac hash.Hash
	buf []byte // the password as bytes; cleared after each use
	sum []byte
}

// passwordMAC is HMAC-SHA256 of password under c's key.
func (c *verifyCache) passwordMAC(password string) [sha256.Size]byte {
	h, _ := c.macs.Get().(*passwordHasher)
	if h == nil {
		h = &passwordHasher{mac: hmac.New(sha256.New, c.key)}
	}
	h.mac.Reset()
	h.buf = append(h.buf[:0], password...)
	h.mac.Write(h.buf)
	clear(h.buf)
	h.sum = h.mac.Sum(h.sum[:0])
	var sum [sha256.Size]byte
	copy(sum[:], h.sum)
	c.macs.Put(h)
	return sum
}

// flightKeyOf identifies a check of the password whose MAC is sum against
// hash for name: a digest of all three, never the password itself.
func flightKeyOf(name string, hash []byte, sum [sha256.Size]byte) flightKey {
	d := sha256.New()
	var n [binary.MaxVarintLen64]byte
	d.Write(binary.AppendUvarint(n[:0], uint64(len(name))))
	d.Write([]byte(name))
	d.Write(binary.AppendUvarint(n[:0], uint64(len(hash))))
	d.Write(hash)
	d.Write(sum[:])
	return flightKey(d.Sum(nil))
}
