package credentials

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/tokend/tokend/fsm"
)

func TestTokens_FormatAndParse(t *testing.T) {
	t.Parallel()
	tok, d := NewToken(AccessPrefix)
	if len(tok) != len(AccessPrefix)+tokenTextLen || d != fsm.DigestOf(tok) {
		t.Fatalf("token %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, AccessPrefix))
	if err != nil || len(raw) != 32 {
		t.Fatalf("payload: %v %d bytes", err, len(raw))
	}
	if got, ok := ParseToken(AccessPrefix, tok); !ok || got != d {
		t.Fatal("a fresh token does not parse")
	}
	other, _ := NewToken(AccessPrefix)
	if other == tok {
		t.Fatal("two tokens are equal")
	}
	for _, bad := range []string{"", tok[:len(tok)-1], tok + "A", RefreshPrefix + tok[len(AccessPrefix):],
		AccessPrefix + strings.Repeat("=", tokenTextLen), AccessPrefix + strings.Repeat("+", tokenTextLen)} {
		if _, ok := ParseToken(AccessPrefix, bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestTokenDigest_IsTheDigestTheStateUses(t *testing.T) {
	for _, prefix := range []string{AccessPrefix, RefreshPrefix} {
		tok, d := NewToken(prefix)
		if d != fsm.DigestOf(tok) {
			t.Fatalf("NewToken's digest of %s... differs from fsm.DigestOf", prefix)
		}
		if parsed, ok := ParseToken(prefix, tok); !ok || parsed != d {
			t.Fatalf("ParseToken of a fresh %s... token: %v", prefix, ok)
		}
		if long := tok + "-longer-than-a-token"; tokenDigest(long) != fsm.DigestOf(long) {
			t.Fatal("tokenDigest of a long string differs from fsm.DigestOf")
		}
	}
}
