package api

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/tokend/tokend/fsm"
)

func TestTokens_FormatAndParse(t *testing.T) {
	t.Parallel()
	tok, d := newToken(accessPrefix)
	if len(tok) != len(accessPrefix)+tokenTextLen || d != fsm.DigestOf(tok) {
		t.Fatalf("token %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, accessPrefix))
	if err != nil || len(raw) != 32 {
		t.Fatalf("payload: %v %d bytes", err, len(raw))
	}
	if got, ok := parseToken(accessPrefix, tok); !ok || got != d {
		t.Fatal("a fresh token does not parse")
	}
	other, _ := newToken(accessPrefix)
	if other == tok {
		t.Fatal("two tokens are equal")
	}
	for _, bad := range []string{"", tok[:len(tok)-1], tok + "A", refreshPrefix + tok[len(accessPrefix):],
		accessPrefix + strings.Repeat("=", tokenTextLen), accessPrefix + strings.Repeat("+", tokenTextLen)} {
		if _, ok := parseToken(accessPrefix, bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestSealPair_OpensOnlyWithTheOldRefreshToken(t *testing.T) {
	t.Parallel()
	old, _ := newToken(refreshPrefix)
	a, _ := newToken(accessPrefix)
	r, _ := newToken(refreshPrefix)
	sealed, err := sealPair(old, pair{a, r})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(a)) || bytes.Contains(sealed, []byte(r)) {
		t.Fatal("the sealed pair holds a plaintext token")
	}
	if p, err := openPair(old, sealed); err != nil || p != (pair{a, r}) {
		t.Fatalf("open: %v %v", p, err)
	}
	again, _ := sealPair(old, pair{a, r})
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals of one pair are equal: salt or nonce is not random")
	}
	other, _ := newToken(refreshPrefix)
	if _, err := openPair(other, sealed); err == nil {
		t.Fatal("opened with another refresh token")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := openPair(old, sealed); err == nil {
		t.Fatal("opened a tampered seal")
	}
	if _, err := openPair(old, []byte{sealVersion}); err == nil {
		t.Fatal("opened a truncated seal")
	}
}
