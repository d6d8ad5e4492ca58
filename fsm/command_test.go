package fsm

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

// sampleCommands returns one fully populated command of every type.
func sampleCommands() []Command {
	m := Meta{ID: rid(7), Time: t0}
	return []Command{
		&CreateToken{Meta: m, Access: dg("a"), Refresh: dg("r"), User: "alice", Realm: NativeRealm, Lifetime: lifetime, Client: "alice"},
		&Refresh{Meta: m, Presented: dg("r"), Client: "alice", NewAccess: dg("a2"), NewRefresh: dg("r2"), Sealed: []byte{1, 2, 3}, Lifetime: lifetime, RevokeOnReplay: true},
		&Invalidate{Meta: m, By: ByUser, Token: dg("a"), Username: "alice", Realm: "default_native"},
		&Purge{Meta: m},
		&PutUser{Meta: m, User: User{Username: "alice", Hash: []byte("h"), Roles: []string{"superuser"}, FullName: "Alice", Email: "a@example.com", Metadata: []byte(`{"k":1}`), Enabled: true, Realm: NativeRealm}},
		&DeleteUser{Meta: m, Username: "alice"},
		&SetPassword{Meta: m, Username: "alice", Hash: []byte("h2")},
		&SetEnabled{Meta: m, Username: "alice", Enabled: true},
		&SetNode{Meta: m, NodeID: "n1", HTTPAddr: "10.0.0.1:9200"},
		&InitCluster{Meta: m, UUID: "4f1c"},
		&PutRole{Meta: m, Role: Role{Name: "ops", Cluster: []string{"monitor"}, Indices: []byte(`[]`)}},
		&DeleteRole{Meta: m, Name: "ops"},
		mustBatch(&CreateToken{Meta: m, Access: dg("b"), User: "bob", Realm: NativeRealm, Lifetime: lifetime,
			PasswordCheck: dg("hash"), TokenCheck: dg("via")}, &Purge{Meta: m}),
	}
}

// mustBatch encodes cs into a Batch or panics.
func mustBatch(cs ...Command) *Batch {
	b, err := NewBatch(cs)
	if err != nil {
		panic(err)
	}
	return b
}

func TestEncodeDecode_RoundTripsEveryCommandType(t *testing.T) {
	seen := map[Type]bool{}
	for _, c := range sampleCommands() {
		t.Run(reflect.TypeOf(c).Elem().Name(), func(t *testing.T) {
			b, err := Encode(c)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if Type(b[0]) != c.Type() || b[1] != FormatVersion {
				t.Fatalf("entry starts %x %x, want type %d version %d", b[0], b[1], c.Type(), FormatVersion)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
			}
		})
		seen[c.Type()] = true
	}
	for typ := Type(1); typ < IgnorableFlag; typ++ {
		if newCommand(typ) != nil && !seen[typ] {
			t.Errorf("command type %d has no round-trip sample", typ)
		}
	}
}

func TestDecode_RejectsMalformedAndUnknownEntries(t *testing.T) {
	valid, err := Encode(&CreateToken{Meta: Meta{Time: t0}, Access: dg("a"), User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		entry []byte
		want  error // nil: (nil, nil), an ignorable command
	}{
		{"empty", nil, ErrMalformed},
		{"type only", []byte{byte(TypeCreateToken)}, ErrMalformed},
		{"type and version, no body", []byte{byte(TypeCreateToken), FormatVersion}, ErrMalformed},
		{"unknown type", []byte{0x3f, FormatVersion, 0x80}, ErrUnknownCommand},
		{"type zero", []byte{0, FormatVersion, 0x80}, ErrUnknownCommand},
		{"future format version", append([]byte{valid[0], FormatVersion + 1}, valid[2:]...), ErrMalformed},
		{"garbage body", []byte{byte(TypeRefresh), FormatVersion, 0xc1, 0xff, 0x00}, ErrMalformed},
		{"truncated body", valid[:len(valid)-5], ErrMalformed},
		{"body of wrong shape", []byte{byte(TypeSetNode), FormatVersion, 0xa3, 'a', 'b', 'c'}, ErrMalformed},
		{"unknown ignorable type", []byte{byte(IgnorableFlag | 0x11), FormatVersion, 0x80}, nil},
		{"unknown ignorable type, any body", []byte{0xff, 0xff, 0xc1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Decode(tt.entry)
			if c != nil {
				t.Fatalf("Decode returned command %+v", c)
			}
			if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Decode error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecode_KnownTypeWithIgnorableBitIsStillDecoded(t *testing.T) {
	// The ignorable bit only matters to a build that does not know the
	// type; known types never carry it, so it is an unknown type here.
	b, _ := Encode(&Purge{Meta: Meta{Time: t0}})
	b[0] |= byte(IgnorableFlag)
	if c, err := Decode(b); c != nil || err != nil {
		t.Fatalf("Decode = %v, %v; want nil, nil", c, err)
	}
}

func TestDecode_NeverPanicsOnRandomInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	entries := make([][]byte, 0, 64)
	for _, c := range sampleCommands() {
		b, _ := Encode(c)
		entries = append(entries, b)
	}
	for i := 0; i < 20000; i++ {
		b := append([]byte{}, entries[rng.IntN(len(entries))]...)
		switch rng.IntN(3) {
		case 0: // flip bytes
			for j := 0; j < 1+rng.IntN(4); j++ {
				b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
			}
		case 1: // truncate
			b = b[:rng.IntN(len(b))]
		default: // random bytes
			b = make([]byte, rng.IntN(64))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		}
		_, _ = Decode(b)
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range sampleCommands() {
		b, _ := Encode(c)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x85, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownCommand) {
			t.Fatalf("error %v is neither ErrMalformed nor ErrUnknownCommand", err)
		}
		if err == nil && c != nil {
			// Whatever decodes must re-encode.
			if _, err := Encode(c); err != nil {
				t.Fatalf("re-encode of decoded %T: %v", c, err)
			}
		}
	})
}

func TestStatus_StringNamesEveryStatus(t *testing.T) {
	want := map[Status]string{OK: "ok", NotFound: "not_found", Expired: "expired", Invalidated: "invalidated",
		WrongClient: "wrong_client", Retried: "retried", Reused: "reused", Status(200): "unknown"}
	for s, name := range want {
		if s.String() != name {
			t.Errorf("Status(%d).String() = %q, want %q", s, s.String(), name)
		}
	}
}
