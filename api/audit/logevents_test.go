package audit

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tokend/tokend/fsm"
)

// Every kind of log event appears once for the command that makes it,
// with the fields a reader needs, and never a digest.
func TestLogEvents_EachKindOnceForItsCommand(t *testing.T) {
	access, refresh := fsm.DigestOf("tka1_secret-access"), fsm.DigestOf("tkr1_secret-refresh")
	batch, err := fsm.NewBatch([]fsm.Command{
		&fsm.CreateToken{Access: access, User: "bob", Realm: fsm.NativeRealm, Client: "bob/default_native"},
		&fsm.CreateToken{Access: access, Refresh: refresh, User: "ann", Realm: fsm.NativeRealm},
	})
	if err != nil {
		t.Fatal(err)
	}
	decoded := mustRoundTrip(t, batch)
	cases := []struct {
		c    fsm.Command
		r    fsm.Result
		want []string // action, then "field=value" checks
	}{
		{&fsm.CreateToken{Access: access, Refresh: refresh, User: "ann", Realm: fsm.NativeRealm, PasswordCheck: refresh},
			fsm.Result{}, []string{ActionTokenCreated, "user.name=ann", "token.grant_type=password", "user.realm=default_native"}},
		{&fsm.Refresh{Presented: refresh, NewAccess: access, NewRefresh: refresh, Sealed: []byte("sealed"), Client: "ann/default_native"},
			fsm.Result{User: "ann", Realm: fsm.NativeRealm}, []string{ActionTokenRefreshed, "user.name=ann"}},
		{&fsm.Refresh{Presented: refresh}, fsm.Result{Status: fsm.Reused, User: "ann", Revoked: 4},
			[]string{ActionReplayRevoked, "user.name=ann", "tokens.count=4"}},
		{&fsm.Invalidate{By: fsm.ByAccessToken, Token: access}, fsm.Result{Invalidated: 1},
			[]string{ActionTokensInvalidate, "invalidate.by=token", "tokens.count=1"}},
		{&fsm.Invalidate{By: fsm.ByUser, Username: "ann"}, fsm.Result{Invalidated: 0, Previously: 2},
			[]string{ActionTokensInvalidate, "invalidate.by=username", "tokens.count=0", "user.name=ann"}},
		{&fsm.PutUser{User: fsm.User{Username: "ann", Hash: []byte("$2a$10$hash")}}, fsm.Result{Created: true},
			[]string{ActionUserCreated, "user.name=ann"}},
		{&fsm.PutUser{User: fsm.User{Username: "ann"}}, fsm.Result{}, []string{ActionUserChanged, "user.name=ann"}},
		{&fsm.SetPassword{Username: "ann", Hash: []byte("$2a$10$hash")}, fsm.Result{}, []string{ActionUserChanged, "reason=password"}},
		{&fsm.SetEnabled{Username: "ann"}, fsm.Result{Invalidated: 3}, []string{ActionUserChanged, "reason=disabled", "tokens.count=3"}},
		{&fsm.DeleteUser{Username: "ann"}, fsm.Result{Invalidated: 2}, []string{ActionUserDeleted, "user.name=ann", "tokens.count=2"}},
		{&fsm.PutRole{Role: fsm.Role{Name: "ops"}}, fsm.Result{Created: true}, []string{ActionRoleCreated, "role.name=ops"}},
		{&fsm.PutRole{Role: fsm.Role{Name: "ops"}}, fsm.Result{}, []string{ActionRoleChanged, "role.name=ops"}},
		{&fsm.DeleteRole{Name: "ops"}, fsm.Result{}, []string{ActionRoleDeleted, "role.name=ops"}},
		{&fsm.SetNode{NodeID: "n2", HTTPAddr: "127.0.0.1:9201"}, fsm.Result{}, []string{ActionMemberJoined, "member.id=n2"}},
		{&fsm.SetNode{NodeID: "n2"}, fsm.Result{}, []string{ActionMemberRemoved, "member.id=n2"}},
		{decoded, fsm.Result{Results: []fsm.Result{{}, {}}},
			[]string{ActionTokenCreated, "user.name=bob", "token.grant_type=client_credentials", "token.client=bob/default_native"}},
	}
	for _, c := range cases {
		events := LogEvents(42, c.c, c.r, 1_700_000_000_000)
		if _, isBatch := c.c.(*fsm.Batch); isBatch {
			if len(events) != 2 || events[1].UserName != "ann" {
				t.Fatalf("batch: %+v", events)
			}
			events = events[:1]
		}
		if len(events) != 1 {
			t.Fatalf("%T: %d events, want 1: %+v", c.c, len(events), events)
		}
		line, _ := json.Marshal(events[0])
		fields := map[string]any{}
		_ = json.Unmarshal(line, &fields)
		if fields["event.action"] != c.want[0] || fields["event.type"] != TypeLog || fields["log.index"] != float64(42) ||
			fields["@timestamp"] != "2023-11-14T22:13:20.000Z" {
			t.Errorf("%T: %s", c.c, line)
		}
		for _, kv := range c.want[1:] {
			k, v, _ := strings.Cut(kv, "=")
			if got := strings.Trim(string(mustJSON(fields[k])), `"`); got != v {
				t.Errorf("%T: %s = %s, want %s: %s", c.c, k, got, v, line)
			}
		}
		assertNoSecret(t, line, access, refresh)
	}
	for _, quiet := range []struct {
		c fsm.Command
		r fsm.Result
	}{
		{&fsm.Purge{}, fsm.Result{Purged: 5}},
		{&fsm.InitCluster{UUID: "u"}, fsm.Result{}},
		{&fsm.CreateToken{User: "ann"}, fsm.Result{Status: fsm.NotFound}},
		{&fsm.Refresh{}, fsm.Result{Status: fsm.Retried, Sealed: []byte("x")}},
		{&fsm.DeleteUser{Username: "nobody"}, fsm.Result{Status: fsm.NotFound}},
		{&fsm.PutRole{Role: fsm.Role{Name: "ops"}}, fsm.Result{Created: true, Repeated: true}},
	} {
		if events := LogEvents(1, quiet.c, quiet.r, 0); len(events) != 0 {
			t.Errorf("%T (%v): %+v, want no event", quiet.c, quiet.r.Status, events)
		}
	}
}

// mustRoundTrip encodes and decodes c, as the log does.
func mustRoundTrip(t *testing.T, c fsm.Command) fsm.Command {
	t.Helper()
	data, err := fsm.Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	out, err := fsm.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// assertNoSecret fails if line holds a digest, in any usual encoding, or a
// hash.
func assertNoSecret(t *testing.T, line []byte, digests ...fsm.Digest) {
	t.Helper()
	s := string(line)
	for _, d := range digests {
		for _, enc := range digestEncodings(d) {
			if strings.Contains(s, enc) {
				t.Errorf("event holds a token digest: %s", line)
			}
		}
	}
	if strings.Contains(s, "$2a$") || strings.Contains(s, "sealed") || strings.Contains(s, "secret") {
		t.Errorf("event holds a hash or sealed pair: %s", line)
	}
}
