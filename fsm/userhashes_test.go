package fsm

import (
	"slices"
	"testing"
)

func TestEachUserHash_VisitsEveryStoredHashAfterChanges(t *testing.T) {
	h := newHarness(t)
	for _, name := range []string{"alice", "bob", "carol"} {
		h.mustOK(&PutUser{Meta: Meta{Time: t0}, User: User{Username: name, Hash: []byte("hash-" + name), Enabled: true}})
	}
	h.mustOK(&PutUser{Meta: Meta{Time: t0}, User: User{Username: "nohash", Enabled: true}})
	h.mustOK(&SetPassword{Meta: Meta{Time: t0}, Username: "bob", Hash: []byte("hash-bob2")})
	h.mustOK(&DeleteUser{Meta: Meta{Time: t0}, Username: "carol"})
	var got []string
	h.f.EachUserHash(func(hash []byte) { got = append(got, string(hash)) })
	slices.Sort(got)
	if want := []string{"hash-alice", "hash-bob2"}; !slices.Equal(got, want) {
		t.Fatalf("hashes %q, want %q", got, want)
	}
}
