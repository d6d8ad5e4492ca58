package fsm

import (
	"encoding/binary"
	"testing"
)

// benchDigest is a distinct digest for each i (and salt).
func benchDigest(salt byte, i uint64) Digest {
	var d Digest
	d[0] = salt
	binary.BigEndian.PutUint64(d[1:], i)
	return d
}

// benchID is a distinct request ID for each i.
func benchID(i uint64) RequestID {
	var id RequestID
	binary.BigEndian.PutUint64(id[:], i)
	return id
}

// benchFSM returns an FSM holding the native user "bench", at index 1.
func benchFSM(b *testing.B) *FSM {
	b.Helper()
	f := New()
	r := f.Apply(1, &PutUser{Meta: Meta{Time: t0}, User: User{Username: "bench", Hash: []byte("hash"), Enabled: true, Realm: NativeRealm}})
	if r.Status != OK {
		b.Fatalf("PutUser: %v", r.Status)
	}
	return f
}

// BenchmarkApply_CreateToken is the leader's and every follower's work per
// issued grant: an access and a refresh token stored, the request ID kept
// for deduplication.
func BenchmarkApply_CreateToken(b *testing.B) {
	f := benchFSM(b)
	index := uint64(1)
	b.ReportAllocs()
	for b.Loop() {
		index++
		c := &CreateToken{Meta: Meta{ID: benchID(index), Time: t0}, Access: benchDigest('a', index),
			Refresh: benchDigest('r', index), User: "bench", Realm: NativeRealm, Lifetime: lifetime}
		if r := f.Apply(index, c); r.Status != OK {
			b.Fatalf("CreateToken: %v", r.Status)
		}
	}
}

// BenchmarkApply_Refresh spends a chain of refresh tokens, each the one the
// previous spend stored.
func BenchmarkApply_Refresh(b *testing.B) {
	f := benchFSM(b)
	index := uint64(2)
	presented := benchDigest('r', index)
	c := &CreateToken{Meta: Meta{ID: benchID(index), Time: t0}, Access: benchDigest('a', index),
		Refresh: presented, User: "bench", Realm: NativeRealm, Lifetime: lifetime}
	if r := f.Apply(index, c); r.Status != OK {
		b.Fatalf("CreateToken: %v", r.Status)
	}
	sealed := make([]byte, 180) // about what the API seals: a token pair, nonce and tag
	b.ReportAllocs()
	for b.Loop() {
		index++
		next := benchDigest('r', index)
		r := f.Apply(index, &Refresh{Meta: Meta{ID: benchID(index), Time: t0 + 1000}, Presented: presented,
			NewAccess: benchDigest('a', index), NewRefresh: next, Sealed: sealed, Lifetime: lifetime, RevokeOnReplay: true})
		if r.Status != OK {
			b.Fatalf("Refresh: %v", r.Status)
		}
		presented = next
	}
}

// BenchmarkAuthenticateLookup is the state's part of checking a Bearer
// token: the access record and its user, in a state of 100,000 tokens.
func BenchmarkAuthenticateLookup(b *testing.B) {
	f := benchFSM(b)
	const tokens = 100_000
	for i := uint64(2); i < tokens+2; i++ {
		f.Apply(i, &CreateToken{Meta: Meta{Time: t0}, Access: benchDigest('a', i), User: "bench", Realm: NativeRealm, Lifetime: lifetime})
	}
	d := benchDigest('a', tokens/2)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec, ok := f.AccessToken(d)
			if !ok {
				b.Error("token not found")
				return
			}
			if _, ok := f.User(rec.User); !ok {
				b.Error("user not found")
				return
			}
		}
	})
}
