package credentials

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
)

// Pair is an access token and its refresh token.
type Pair struct {
	Access  string // the access token
	Refresh string // its refresh token; "" when none was issued
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

// ErrSealed reports a sealed pair that cannot be opened.
var ErrSealed = errors.New("credentials: sealed token pair cannot be opened")

// SealPair encrypts p under a key derived from the refresh token it replaces.
func SealPair(oldRefresh string, p Pair) ([]byte, error) {
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
	return aead.Seal(out, nonce, []byte(p.Access+" "+p.Refresh), out[:1]), nil
}

// OpenPair decrypts a pair sealed by SealPair under the same refresh token.
func OpenPair(oldRefresh string, sealed []byte) (Pair, error) {
	if len(sealed) < 1+saltLen || sealed[0] != sealVersion {
		return Pair{}, ErrSealed
	}
	aead, err := pairCipher(oldRefresh, sealed[1:1+saltLen])
	if err != nil {
		return Pair{}, err
	}
	rest := sealed[1+saltLen:]
	if len(rest) < aead.NonceSize() {
		return Pair{}, ErrSealed
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], sealed[:1])
	if err != nil {
		return Pair{}, ErrSealed
	}
	access, refresh, ok := strings.Cut(string(plain), " ")
	if _, okA := ParseToken(AccessPrefix, access); !ok || !okA {
		return Pair{}, ErrSealed
	}
	if _, okR := ParseToken(RefreshPrefix, refresh); !okR {
		return Pair{}, ErrSealed
	}
	return Pair{access, refresh}, nil
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
