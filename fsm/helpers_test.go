package fsm

import (
	"bytes"
	"reflect"
	"testing"
)

// t0 is an arbitrary start time for tests, in Unix milliseconds.
const t0 = int64(1_700_000_000_000)

// lifetime is the access token lifetime the tests use (20 min).
const lifetime = int64(20 * 60 * 1000)

// harness applies commands to one FSM at increasing log indexes.
type harness struct {
	t     *testing.T
	f     *FSM
	index uint64
}

// newHarness returns a harness around an empty FSM.
func newHarness(t *testing.T) *harness {
	t.Helper()
	return &harness{t: t, f: New()}
}

// apply applies c at the next log index.
func (h *harness) apply(c Command) Result {
	h.index++
	return h.f.Apply(h.index, c)
}

// mustOK applies c and fails the test unless the status is OK.
func (h *harness) mustOK(c Command) Result {
	h.t.Helper()
	r := h.apply(c)
	if r.Status != OK {
		h.t.Fatalf("apply %T: status %v, want ok", c, r.Status)
	}
	return r
}

// issue stores an access token and, when refresh is not "", a refresh token
// for user in the native realm at time at. A user that does not exist yet is
// first created as an enabled native user (addUser); an existing user is left
// as it is, so issuing for a disabled or reserved user fails the test.
func (h *harness) issue(access, refresh, user, client string, at int64) {
	h.t.Helper()
	if _, ok := h.f.User(user); !ok {
		h.addUser(user)
	}
	c := &CreateToken{Meta: Meta{Time: at}, Access: dg(access), User: user, Realm: NativeRealm, Lifetime: lifetime, Client: client}
	if refresh != "" {
		c.Refresh = dg(refresh)
	}
	h.mustOK(c)
}

// spend refreshes presented into (newAccess, newRefresh) at time at.
func (h *harness) spend(presented, newAccess, newRefresh, client string, at int64) Result {
	return h.apply(&Refresh{
		Meta: Meta{Time: at}, Presented: dg(presented), Client: client,
		NewAccess: dg(newAccess), NewRefresh: dg(newRefresh),
		Sealed: []byte("sealed:" + newAccess + "/" + newRefresh), Lifetime: lifetime,
		RevokeOnReplay: true,
	})
}

// addUser stores an enabled native user.
func (h *harness) addUser(name string) {
	h.t.Helper()
	h.mustOK(&PutUser{Meta: Meta{Time: t0}, User: User{Username: name, Hash: []byte("hash-" + name), Enabled: true, Realm: NativeRealm}})
}

// access returns the access token record for the token string s.
func (h *harness) access(s string) AccessToken {
	h.t.Helper()
	a, ok := h.f.AccessToken(dg(s))
	if !ok {
		h.t.Fatalf("access token %q missing", s)
	}
	return a
}

// refresh returns the refresh token record for the token string s.
func (h *harness) refresh(s string) RefreshToken {
	h.t.Helper()
	r, ok := h.f.RefreshToken(dg(s))
	if !ok {
		h.t.Fatalf("refresh token %q missing", s)
	}
	return r
}

// dg is DigestOf, short for tables.
func dg(s string) Digest { return DigestOf(s) }

// rid returns a request ID built from n.
func rid(n byte) RequestID { return RequestID{0: n, 15: 0xAA} }

// contents returns a deep copy of the FSM's state without the applied index
// and the log's clock, which every command advances, to compare states
// before and after a command that must change nothing else.
func contents(f *FSM) *state {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.s.clone()
	s.index, s.clock = 0, 0
	return s
}

// assertUnchanged fails the test if the FSM's state differs from before.
func assertUnchanged(t *testing.T, f *FSM, before *state) {
	t.Helper()
	if after := contents(f); !reflect.DeepEqual(before, after) {
		t.Fatalf("state changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// snapshotBytes writes a snapshot of f and returns it.
func snapshotBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := f.Snapshot().WriteTo(&b)
	if err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if n != int64(b.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d bytes", n, b.Len())
	}
	return b.Bytes()
}
