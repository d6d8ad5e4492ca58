package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
)

// checkTokenAnswer checks the shape of a password grant's answer for elastic
// and returns its tokens.
func checkTokenAnswer(t *testing.T, r resp) (access, refresh string) {
	t.Helper()
	m := r.json(t)
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "access_token,authentication,expires_in,refresh_token,type" {
		t.Fatalf("token answer keys: %v", keys)
	}
	access, refresh = m["access_token"].(string), m["refresh_token"].(string)
	auth := m["authentication"].(map[string]any)
	if m["type"] != "Bearer" || m["expires_in"] != float64(1200) || auth["username"] != "elastic" ||
		auth["authentication_type"] != "realm" || !strings.HasPrefix(access, credentials.AccessPrefix) || !strings.HasPrefix(refresh, credentials.RefreshPrefix) {
		t.Fatalf("token answer: %s", r.body)
	}
	return access, refresh
}

func TestTokenLifecycle_GrantAuthenticateRefreshRetryInvalidate(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	r := n.do("POST", "/_security/oauth2/token", `{"grant_type":"password","username":"elastic","password":"elastic-pw"}`).want(t, 200)
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
		t.Fatalf("token answer headers: %v", r.header)
	}
	access, refresh := checkTokenAnswer(t, r)

	who := n.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200).json(t)
	realm := who["authentication_realm"].(map[string]any)
	if who["username"] != "elastic" || who["authentication_type"] != "token" || realm["name"] != "reserved" || realm["type"] != "reserved" {
		t.Fatalf("authenticate: %v", who)
	}

	body := fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh)
	first := n.do("POST", "/_security/oauth2/token", body).want(t, 200).json(t)
	if first["access_token"] == access || first["refresh_token"] == refresh || first["refresh_token"] == nil {
		t.Fatalf("refresh gave no new pair: %v", first)
	}
	again := n.do("POST", "/_security/oauth2/token", body).want(t, 200).json(t)
	if again["access_token"] != first["access_token"] || again["refresh_token"] != first["refresh_token"] || again["expires_in"] != float64(1200) {
		t.Fatalf("retry within the window: %v, first %v", again, first)
	}
	newAccess := first["access_token"].(string)
	n.do("GET", "/_security/_authenticate", "", bearer(newAccess)...).want(t, 200)
	n.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200) // a refresh leaves the old access token alone

	inv := n.do("DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, newAccess)).want(t, 200)
	if string(inv.body) != `{"invalidated_tokens":1,"previously_invalidated_tokens":0,"error_count":0}` {
		t.Fatalf("invalidate: %s", inv.body)
	}
	r = n.do("GET", "/_security/_authenticate", "", bearer(newAccess)...)
	r.wantError(t, 401, "security_exception", "token expired")
	if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != challengeExpired {
		t.Fatalf("WWW-Authenticate: %q", got)
	}
}

func TestCreateToken_ValidationMessages(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	grantTypes := "grant_type only supports the values: [password, refresh_token, client_credentials]"
	cases := []struct{ body, code, description string }{
		{`{"username":"a","password":"b"}`, "unsupported_grant_type", "Validation Failed: 1: " + grantTypes + ";"},
		{`{"grant_type":"magic"}`, "unsupported_grant_type", "Validation Failed: 1: " + grantTypes + ";"},
		{`{"grant_type":"password"}`, "invalid_request", "Validation Failed: 1: username is missing;2: password is missing;"},
		{`{"grant_type":"password","username":"","password":""}`, "invalid_request", "Validation Failed: 1: username is missing;2: password is missing;"},
		{`{"grant_type":"password","username":"u"}`, "invalid_request", "Validation Failed: 1: password is missing;"},
		{`{"grant_type":"refresh_token"}`, "invalid_request", "Validation Failed: 1: refresh_token is missing;"},
		{`{"grant_type":"refresh_token","refresh_token":"x","username":"u"}`, "unsupported_grant_type",
			"Validation Failed: 1: username is not supported with the refresh_token grant_type;"},
		{`{"grant_type":"password","username":"u","password":"p","refresh_token":"x"}`, "unsupported_grant_type",
			"Validation Failed: 1: refresh_token is not supported with the password grant_type;"},
		{`{"grant_type":"client_credentials","password":"p"}`, "unsupported_grant_type",
			"Validation Failed: 1: password is not supported with the client_credentials grant_type;"},
	}
	for _, c := range cases {
		r := n.do("POST", "/_security/oauth2/token", c.body)
		r.wantOAuth(t, c.code, c.description)
		if r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: no Cache-Control on an error", c.body)
		}
	}
}

func TestCreateToken_BodyErrorsAreParseExceptions(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	cases := []struct{ body, reason string }{
		{`oops`, "request body is not valid JSON: invalid character looking for beginning of value at offset 1"},
		{`{"grant_type":5}`, "failed to parse field [grant_type]: expected a string but found number"},
		{`{"grant_type":"password","colour":"blue"}`, "unknown field [colour]"},
		{`{"grant_type":"password","grant_type":"refresh_token"}`, "duplicate field [grant_type]"},
		{`[]`, "request body must be a JSON object"},
		{`{"grant_type":"password"} {}`, "request body has data after the JSON object"},
		{`{"grant_type":`, "request body is not valid JSON: unexpected end of input"},
	}
	for _, c := range cases {
		n.do("POST", "/_security/oauth2/token", c.body).wantError(t, 400, "parse_exception", c.reason)
	}
	n.do("POST", "/_security/oauth2/token", "").wantError(t, 400, "parse_exception", "request body is required")
}

func TestPasswordGrant_BadCredentialsAnswerTheSame(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	n.propose(&fsm.SetEnabled{Username: "monty", Enabled: false})
	for _, c := range []struct{ user, pw string }{{"alice", "wrong-pw"}, {"nobody", "whatever"}, {"monty", "monty-pw"}} {
		r := n.do("POST", "/_security/oauth2/token", fmt.Sprintf(`{"grant_type":"password","username":%q,"password":%q}`, c.user, c.pw))
		r.wantError(t, 401, "security_exception",
			fmt.Sprintf("unable to authenticate user [%s] for REST request [/_security/oauth2/token]", c.user))
		if len(r.header.Values("WWW-Authenticate")) != 2 {
			t.Fatalf("challenges: %v", r.header.Values("WWW-Authenticate"))
		}
	}
}

func TestClientCredentials_NeedsAuthenticationAndGivesNoRefreshToken(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	n.do("POST", "/_security/oauth2/token", `{"grant_type":"client_credentials"}`).wantError(t, 401, "security_exception",
		"missing authentication credentials for REST request [/_security/oauth2/token]")
	m := n.do("POST", "/_security/oauth2/token", `{"grant_type":"client_credentials"}`, basicAuth("alice", "alice-pw")...).want(t, 200).json(t)
	if _, ok := m["refresh_token"]; ok || m["access_token"] == nil {
		t.Fatalf("client_credentials answer: %v", m)
	}
	who := n.do("GET", "/_security/_authenticate", "", bearer(m["access_token"].(string))...).want(t, 200).json(t)
	if who["username"] != "alice" {
		t.Fatalf("token user: %v", who)
	}
}

func TestRefresh_InvalidGrantPerReason(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	refreshBody := func(tok string) string {
		return fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, tok)
	}
	// Malformed and unknown.
	n.do("POST", "/_security/oauth2/token", refreshBody("nonsense")).wantOAuth(t, "invalid_grant", "could not refresh the requested token")
	unknown, _ := credentials.NewToken(credentials.RefreshPrefix)
	n.do("POST", "/_security/oauth2/token", refreshBody(unknown)).wantOAuth(t, "invalid_grant", "could not refresh the requested token")
	// Invalidated.
	_, refresh := n.passwordGrant("alice", "alice-pw")
	n.do("DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"refresh_token":%q}`, refresh)).want(t, 200)
	n.do("POST", "/_security/oauth2/token", refreshBody(refresh)).wantOAuth(t, "invalid_grant", "token has been invalidated")
	// Older than 24 h.
	_, old := n.issueDirect("alice", fsm.NativeRealm, 25*time.Hour)
	n.do("POST", "/_security/oauth2/token", refreshBody(old)).wantOAuth(t, "invalid_grant", "refresh token is expired")
	// Created by an authenticated client, refreshed by another.
	_, owned := n.passwordGrant("alice", "alice-pw", basicAuth("monty", "monty-pw")...)
	n.do("POST", "/_security/oauth2/token", refreshBody(owned)).wantOAuth(t, "invalid_grant", "tokens must be refreshed by the creating client")
	n.do("POST", "/_security/oauth2/token", refreshBody(owned), basicAuth("alice", "alice-pw")...).
		wantOAuth(t, "invalid_grant", "tokens must be refreshed by the creating client")
	n.do("POST", "/_security/oauth2/token", refreshBody(owned), basicAuth("monty", "monty-pw")...).want(t, 200)
}

// spendDirect spends refresh in the state, moves the cluster's clock 40 s
// on, past the retry window, and returns the access token that spend
// produced.
func spendDirect(n *testNode, refresh string) string {
	d, _ := credentials.ParseToken(credentials.RefreshPrefix, refresh)
	access, ad := credentials.NewToken(credentials.AccessPrefix)
	_, rd := credentials.NewToken(credentials.RefreshPrefix)
	c := &fsm.Refresh{Presented: d, NewAccess: ad, NewRefresh: rd, Lifetime: time.Hour.Milliseconds(), RevokeOnReplay: true}
	if res := n.propose(c); res.Status != fsm.OK {
		n.t.Fatalf("direct refresh: %v", res.Status)
	}
	n.node.log.clock.advance(40 * time.Second)
	return access
}

func TestRefresh_ReplayAfterWindowRevokesFamily(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	_, refresh := n.passwordGrant("alice", "alice-pw")
	descendant := spendDirect(n, refresh)
	n.do("GET", "/_security/_authenticate", "", bearer(descendant)...).want(t, 200)
	n.do("POST", "/_security/oauth2/token", fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh)).
		wantOAuth(t, "invalid_grant", "token has already been refreshed more than 30 seconds in the past")
	n.do("GET", "/_security/_authenticate", "", bearer(descendant)...).wantError(t, 401, "security_exception", "token expired")
}

func TestRefresh_ReplayRevocationCanBeDisabled(t *testing.T) {
	t.Parallel()
	n := newLeader(t, func(c *Config) { c.DisableReplayRevocation = true })
	_, refresh := n.passwordGrant("alice", "alice-pw")
	descendant := spendDirect(n, refresh)
	n.do("POST", "/_security/oauth2/token", fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh)).
		wantOAuth(t, "invalid_grant", "token has already been refreshed more than 30 seconds in the past")
	n.do("GET", "/_security/_authenticate", "", bearer(descendant)...).want(t, 200)
}

func TestScope_EchoedAsFull(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	m := n.do("POST", "/_security/oauth2/token", `{"grant_type":"password","username":"alice","password":"alice-pw","scope":"anything"}`).
		want(t, 200).json(t)
	if m["scope"] != "FULL" {
		t.Fatalf("scope: %v", m["scope"])
	}
}

func TestInvalidate_ShapesAndCounts(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	access, refresh := n.passwordGrant("alice", "alice-pw")
	body := fmt.Sprintf(`{"token":%q}`, access)
	r := n.do("DELETE", "/_xpack/security/oauth2/token", body).want(t, 200)
	if string(r.body) != `{"created":true,"invalidated_tokens":1,"previously_invalidated_tokens":0,"error_count":0}` {
		t.Fatalf("6.x first: %s", r.body)
	}
	r = n.do("DELETE", "/_xpack/security/oauth2/token", body).want(t, 200)
	if string(r.body) != `{"created":false,"invalidated_tokens":0,"previously_invalidated_tokens":1,"error_count":0}` {
		t.Fatalf("6.x repeat: %s", r.body)
	}
	zero := `{"invalidated_tokens":0,"previously_invalidated_tokens":0,"error_count":0}`
	unknown, _ := credentials.NewToken(credentials.AccessPrefix)
	for _, b := range []string{fmt.Sprintf(`{"token":%q}`, unknown), `{"token":"garbage"}`, `{"refresh_token":"tka1_x"}`} {
		if r := n.do("DELETE", "/_security/oauth2/token", b).want(t, 404); string(r.body) != zero {
			t.Fatalf("%s: %s", b, r.body)
		}
	}
	// The refresh token survives its access token's invalidation.
	n.do("POST", "/_security/oauth2/token", fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh)).want(t, 200)
}

func TestInvalidate_ByUserNeedsManageToken(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	n.passwordGrant("alice", "alice-pw")
	body := `{"username":"alice"}`
	n.do("DELETE", "/_security/oauth2/token", body).wantError(t, 401, "security_exception",
		"missing authentication credentials for REST request [/_security/oauth2/token]")
	n.do("DELETE", "/_security/oauth2/token", body, basicAuth("alice", "alice-pw")...).wantError(t, 403, "security_exception",
		"action [cluster:admin/xpack/security/token/invalidate] is unauthorized for user [alice]")
	r := n.do("DELETE", "/_security/oauth2/token", body, basicAuth("tokman", "tokman-pw")...).want(t, 200)
	// The password grant made two tokens; the refresh above made none.
	if string(r.body) != `{"invalidated_tokens":2,"previously_invalidated_tokens":0,"error_count":0}` {
		t.Fatalf("by user: %s", r.body)
	}
	r = n.do("DELETE", "/_security/oauth2/token", `{"realm_name":"no_such_realm"}`, basicAuth("tokman", "tokman-pw")...).want(t, 200)
	if string(r.body) != `{"invalidated_tokens":0,"previously_invalidated_tokens":0,"error_count":0}` {
		t.Fatalf("nothing matching: %s", r.body)
	}
}

func TestInvalidate_Validation(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	n.do("DELETE", "/_security/oauth2/token", `{}`).wantError(t, 400, "action_request_validation_exception",
		"Validation Failed: 1: token string must be provided when not specifying a realm name or a username;")
	n.do("DELETE", "/_security/oauth2/token", `{"token":"a","refresh_token":"b"}`).wantError(t, 400, "illegal_argument_exception",
		"only one of [token, refresh_token] may be sent per request")
	n.do("DELETE", "/_security/oauth2/token", `{"token":"a","username":"b"}`).wantError(t, 400, "action_request_validation_exception",
		"Validation Failed: 1: token string must not be provided when realm name or username is specified;"+
			"2: token type must not be provided when realm name or username is specified;")
	n.do("DELETE", "/_security/oauth2/token", `{"token":true}`).wantError(t, 400, "parse_exception",
		"failed to parse field [token]: expected a string but found bool")
}

func TestTokenRoutes_CarryNoStoreOnEveryAnswer(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	r := n.do("DELETE", "/_security/oauth2/token", `{"token":"x"}`)
	if r.status != http.StatusNotFound || r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
		t.Fatalf("%d %v", r.status, r.header)
	}
}

// The grant answer built without reflection is byte for byte what
// encoding/json gives for the same response, with and without a refresh
// token and a scope, and for strings that need escaping.
func TestAppendTokenResponse_SameBytesAsEncodingJSON(t *testing.T) {
	auth := authView(fsm.User{Username: "alice", Roles: []string{"r<1>"}, Enabled: true, Realm: fsm.NativeRealm},
		fsm.NativeRealm, authTypeRealm)
	authBytes, err := json.Marshal(auth)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p     credentials.Pair
		scope string
	}{
		{credentials.Pair{Access: "tka1_abc-DEF_09"}, ""},
		{credentials.Pair{Access: "tka1_abc", Refresh: "tkr1_xyz"}, "FULL"},
		{credentials.Pair{Access: `odd "quoted" <&> \ token`, Refresh: "ünïcode\u2028"}, "FULL"},
	} {
		want, err := json.Marshal(tokenResponse{AccessToken: c.p.Access, Type: "Bearer", ExpiresIn: 1200,
			Scope: c.scope, RefreshToken: c.p.Refresh, Authentication: auth})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendTokenResponse(nil, c.p, 1200, c.scope, authBytes); !bytes.Equal(got, want) {
			t.Errorf("appendTokenResponse:\n got %s\nwant %s", got, want)
		}
	}
}
