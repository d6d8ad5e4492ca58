package credentials

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/tokend/tokend/fsm"
)

// Token format: a versioned prefix, then 32 bytes from crypto/rand in
// URL-safe base64 without padding. The prefix tells access from refresh
// tokens and lets the format change later; its digit is the format version.
const (
	// AccessPrefix begins every access token.
	AccessPrefix = "tka1_"
	// RefreshPrefix begins every refresh token.
	RefreshPrefix = "tkr1_"
	tokenBytes    = 32
	tokenTextLen  = 43 // base64.RawURLEncoding.EncodedLen(tokenBytes)
)

// NewToken returns a fresh token with prefix and the digest it is stored as.
func NewToken(prefix string) (string, fsm.Digest) {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes instead)
	tok := prefix + base64.RawURLEncoding.EncodeToString(b)
	return tok, tokenDigest(tok)
}

// ParseToken checks that s is a well-formed token with prefix and returns
// its digest. It never looks at the state.
func ParseToken(prefix, s string) (fsm.Digest, bool) {
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
	var buf [len(AccessPrefix) + tokenTextLen]byte
	if len(tok) > len(buf) {
		return fsm.DigestOf(tok)
	}
	return sha256.Sum256(buf[:copy(buf[:], tok)])
}
