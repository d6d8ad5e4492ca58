package fsm

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// accessRecord and refreshRecord are the token records as msgpack/v5
// reflection encodes them: the layout that snapshots written before the
// hand-written codec hold, and that the codec must keep.
type (
	accessRecord struct {
		Digest Digest      `msgpack:"d"`
		Token  AccessToken `msgpack:"t"`
	}
	refreshRecord struct {
		Digest Digest       `msgpack:"d"`
		Token  RefreshToken `msgpack:"t"`
	}
)

// reflectEncode encodes v as snapshot.Writer.Write does.
func reflectEncode(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := msgpack.NewEncoder(&b)
	enc.SetSortMapKeys(true)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// randomTokens returns access and refresh tokens whose fields cover every
// width of every msgpack type the codec writes.
func randomTokens(rng *rand.Rand, n int) ([]AccessToken, []RefreshToken) {
	ints := []int64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64, 1_800_000_000_000}
	strs := []string{"", "a", strings.Repeat("u", 31), strings.Repeat("v", 32), strings.Repeat("w", 255),
		strings.Repeat("x", 256), strings.Repeat("y", 65536), "ünïcode"}
	seals := [][]byte{nil, {}, []byte("sealed"), bytes.Repeat([]byte{7}, 256), bytes.Repeat([]byte{8}, 65536)}
	pick := func(xs []int64) int64 { return xs[rng.IntN(len(xs))] }
	str := func() string { return strs[rng.IntN(len(strs))] }
	digest := func() (d Digest) {
		if rng.IntN(4) > 0 {
			for i := range d {
				d[i] = byte(rng.Uint32())
			}
		}
		return d
	}
	var as []AccessToken
	var rs []RefreshToken
	for range n {
		realm := Realm{Name: str(), Type: str()}
		as = append(as, AccessToken{User: str(), Realm: realm, Created: pick(ints), Expires: pick(ints),
			Invalidated: rng.IntN(2) == 0, Family: digest(), Generation: uint32(pick(ints))})
		rs = append(rs, RefreshToken{User: str(), Realm: realm, Created: pick(ints), Invalidated: rng.IntN(2) == 0,
			Client: str(), Family: digest(), Generation: uint32(pick(ints)), UsedAt: pick(ints), Sealed: seals[rng.IntN(len(seals))]})
	}
	return as, rs
}

// The hand-written codec writes the bytes reflection wrote, so snapshots
// taken before it restore, and it decodes them back to the same tokens.
func TestTokenRecords_SameBytesAsReflectionAndRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	as, rs := randomTokens(rng, 500)
	var owners ownerCache
	for i := range as {
		d := Digest{0: byte(i), 1: byte(i >> 8), 31: 0xEE}
		want := reflectEncode(t, accessRecord{Digest: d, Token: as[i]})
		got := appendAccess(nil, d, storeAccess(as[i]))
		if !bytes.Equal(got, want) {
			t.Fatalf("access %+v:\nhand       %x\nreflection %x", as[i], got, want)
		}
		f, err := decodeToken(want, false)
		if err != nil {
			t.Fatalf("decode access %+v: %v", as[i], err)
		}
		if back := owners.access(&f).export(); f.digest != d || back != as[i] {
			t.Fatalf("access decoded to %x %+v, want %x %+v", f.digest, back, d, as[i])
		}

		want = reflectEncode(t, refreshRecord{Digest: d, Token: rs[i]})
		got = appendRefresh(nil, d, storeRefresh(rs[i]), rs[i].Sealed)
		if !bytes.Equal(got, want) {
			t.Fatalf("refresh %+v:\nhand       %x\nreflection %x", rs[i], got, want)
		}
		if f, err = decodeToken(want, true); err != nil {
			t.Fatalf("decode refresh %+v: %v", rs[i], err)
		}
		back := owners.refresh(&f).export(f.sealed)
		if f.digest != d || back.Sealed == nil != (rs[i].Sealed == nil) || !bytes.Equal(back.Sealed, rs[i].Sealed) {
			t.Fatalf("refresh decoded to %x %+v, want %x %+v", f.digest, back, d, rs[i])
		}
		back.Sealed = rs[i].Sealed
		if back.User != rs[i].User || back.Realm != rs[i].Realm || back.Client != rs[i].Client ||
			back.Created != rs[i].Created || back.UsedAt != rs[i].UsedAt || back.Family != rs[i].Family ||
			back.Generation != rs[i].Generation || back.Invalidated != rs[i].Invalidated {
			t.Fatalf("refresh decoded to %+v, want %+v", back, rs[i])
		}
	}
}

// Records that msgpack can hold but a token record cannot are refused, and
// declared lengths beyond the data are refused without reading past it.
func TestTokenRecords_MalformedBodiesAreRefused(t *testing.T) {
	good := appendAccess(nil, Digest{1}, storeAccess(AccessToken{User: "alice", Realm: NativeRealm, Expires: 5}))
	cases := map[string]struct {
		body    []byte
		refresh bool
	}{
		"truncated":               {good[:len(good)-1], false},
		"trailing byte":           {append(bytes.Clone(good), 0), false},
		"not a map":               {reflectEncode(t, "just a string"), false},
		"unknown outer field":     {reflectEncode(t, map[string]any{"z": 1}), false},
		"refresh field in access": {reflectEncode(t, map[string]any{"t": map[string]any{"cl": "c"}}), false},
		"access field in refresh": {reflectEncode(t, map[string]any{"t": map[string]any{"x": 1}}), true},
		"short digest":            {reflectEncode(t, map[string]any{"d": []byte{1, 2}}), false},
		"generation out of range": {reflectEncode(t, map[string]any{"t": map[string]any{"g": int64(-1)}}), false},
		"time out of range":       {reflectEncode(t, map[string]any{"t": map[string]any{"c": uint64(math.MaxUint64)}}), false},
		"huge declared map":       {[]byte{0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'd'}, false},
		"huge declared string":    {[]byte{0x81, 0xdb, 0xff, 0xff, 0xff, 0xff, 'd'}, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeToken(tc.body, tc.refresh); err == nil {
				t.Fatalf("decodeToken(%x) succeeded", tc.body)
			}
		})
	}
}
