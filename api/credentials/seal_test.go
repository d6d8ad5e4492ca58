package credentials

import (
	"bytes"
	"testing"
)

func TestSealPair_OpensOnlyWithTheOldRefreshToken(t *testing.T) {
	t.Parallel()
	old, _ := NewToken(RefreshPrefix)
	a, _ := NewToken(AccessPrefix)
	r, _ := NewToken(RefreshPrefix)
	sealed, err := SealPair(old, Pair{a, r})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(a)) || bytes.Contains(sealed, []byte(r)) {
		t.Fatal("the sealed pair holds a plaintext token")
	}
	if p, err := OpenPair(old, sealed); err != nil || p != (Pair{a, r}) {
		t.Fatalf("open: %v %v", p, err)
	}
	again, _ := SealPair(old, Pair{a, r})
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals of one pair are equal: salt or nonce is not random")
	}
	other, _ := NewToken(RefreshPrefix)
	if _, err := OpenPair(other, sealed); err == nil {
		t.Fatal("opened with another refresh token")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := OpenPair(old, sealed); err == nil {
		t.Fatal("opened a tampered seal")
	}
	if _, err := OpenPair(old, []byte{sealVersion}); err == nil {
		t.Fatal("opened a truncated seal")
	}
}
