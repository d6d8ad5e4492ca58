package api

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/tokend/tokend/fsm"
)

// Token format: a versioned prefix, then 32 bytes from crypto/rand in URL-safe
// base64 without padding. The prefix tells access from refresh tokens and
// lets the format change later; its digit is the format version.
const (
	accessPrefix  = "tka1_"
	refreshPrefix = "tkr1_"
	tokenBytes    = 32
	tokenTextLen  = 43 // base64.RawURLEncoding.EncodedLen(tokenBytes)
)

// newToken returns a fresh token with prefix and the digest it is stored as.
func newToken(prefix string) (string, fsm.Digest) {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes instead)
	tok := prefix + base64.RawURLEncoding.EncodeToString(b)
	return tok, tokenDigest(tok)
}

// parseToken checks that s is a well-formed token with prefix and returns
// its digest. It never looks at the state.
func parseToken(prefix, s string) (fsm.Digest, bool) {
	body, ok := strings.CutPrefix(s, prefix)
	if !ok || len(body) != tokenTextLen {
		return fsm.Digest{}, false
	}
	// Decoding from and into arrays on the stack keeps a check, which every
	// Bearer request makes, free of allocations.
	var text [tokenTextLen]byte
	var raw [tokenBytes + 1]byte
	n, err := base64.RawURLEncoding.Strict().Decode(raw[:], text[:copy(text[:], body)])
	if err != nil || n != tokenBytes {
		return fsm.Digest{}, false
	}
	return tokenDigest(s), true
}

// tokenDigest is fsm.DigestOf(tok) for a token of the format above, hashed
// from a copy on the stack so that it does not allocate.
func tokenDigest(tok string) fsm.Digest {
	var buf [len(accessPrefix) + tokenTextLen]byte
	if len(tok) > len(buf) {
		return fsm.DigestOf(tok)
	}
	return sha256.Sum256(buf[:copy(buf[:], tok)])
}

// pair is an access token and its refresh token.
type pair struct {
	access, refresh string
}

// Sealing the pair a refresh produced, so that a retry within the grace
// window can be answered with it while the state never holds it in
// plaintext. Layout: version(1) | salt(16) | nonce(12) | AES-256-GCM(pair).
//
// The key is HKDF-SHA256 of the old refresh token with a random salt and its
// own info string. The state keys tokens by SHA-256(token), which is public
// to anyone holding a snapshot, so the key must not be that digest; HKDF with
// a distinct info string gives an independent value. A slow KDF (Elasticsearch
// uses PBKDF2) buys nothing here: the refresh token carries 256 bits from
// crypto/rand, so guessing it is infeasible however cheap each guess is.
const (
	sealVersion = 1
	saltLen     = 16
	sealInfo    = "tokend/v1 refresh-retry pair"
)

// errSealed reports a sealed pair that cannot be opened.
var errSealed = errors.New("api: sealed token pair cannot be opened")

// sealPair encrypts p under a key derived from the refresh token it replaces.
func sealPair(oldRefresh string, p pair) ([]byte, error) {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt)
	aead, err := pairCipher(oldRefresh, salt)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := append([]byte{sealVersion}, salt...)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, []byte(p.access+" "+p.refresh), out[:1]), nil
}

// openPair decrypts a pair sealed by sealPair under the same refresh token.
func openPair(oldRefresh string, sealed []byte) (pair, error) {
	if len(sealed) < 1+saltLen || sealed[0] != sealVersion {
		return pair{}, errSealed
	}
	aead, err := pairCipher(oldRefresh, sealed[1:1+saltLen])
	if err != nil {
		return pair{}, err
	}
	rest := sealed[1+saltLen:]
	if len(rest) < aead.NonceSize() {
		return pair{}, errSealed
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], sealed[:1])
	if err != nil {
		return pair{}, errSealed
	}
	access, refresh, ok := strings.Cut(string(plain), " ")
	if _, okA := parseToken(accessPrefix, access); !ok || !okA {
		return pair{}, errSealed
	}
	if _, okR := parseToken(refreshPrefix, refresh); !okR {
		return pair{}, errSealed
	}
	return pair{access, refresh}, nil
}

// pairCipher derives the AES-256-GCM cipher for a refresh token and salt.
func pairCipher(refresh string, salt []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(refresh), salt, sealInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
