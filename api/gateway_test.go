package api

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/fsm"
)

// postForm sends form, form-encoded, to n's path with header pairs.
func (n *testNode) postForm(path string, form url.Values, hdr ...string) resp {
	n.t.Helper()
	req, err := http.NewRequest("POST", n.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		n.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// addIntrospector adds gate, a user holding only token_introspector.
func addIntrospector(t *testing.T, n *testNode) []string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("gate-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	n.propose(&fsm.PutUser{User: fsm.User{Username: "gate", Hash: hash, Roles: []string{"token_introspector"}, Enabled: true, Realm: fsm.NativeRealm}})
	return basicAuth("gate", "gate-pw")
}

// introspect asks n about tok as caller and returns the decoded answer.
func introspect(t *testing.T, n *testNode, tok string, caller []string) map[string]any {
	t.Helper()
	r := n.postForm(introspectPath, url.Values{"token": {tok}}, caller...).want(t, 200)
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
	}
	return r.json(t)
}

// TestIntrospect_LiveAndDeadTokens: a live access or refresh token is active
// with its identity; invalidated, expired, spent, unknown and malformed
// tokens are active:false and nothing more.
func TestIntrospect_LiveAndDeadTokens(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	gate := addIntrospector(t, n)
	access, refresh := n.passwordGrant("tokman", "tokman-pw")
	a := introspect(t, n, access, gate)
	now := time.Now().Unix()
	if a["active"] != true || a["token_type"] != "access_token" || a["username"] != "tokman" || a["sub"] != "tokman" ||
		a["realm"] != "default_native" || a["scope"] != "FULL" || fmt.Sprint(a["roles"]) != "[token_manager]" {
		t.Fatalf("access token: %v", a)
	}
	if exp, iat := a["exp"].(float64), a["iat"].(float64); iat < float64(now-60) || iat > float64(now+60) || exp-iat < 1199 || exp-iat > 1201 {
		t.Fatalf("iat %v exp %v, want now and now+1200", iat, exp)
	}
	rt := introspect(t, n, refresh, gate)
	if rt["active"] != true || rt["token_type"] != "refresh_token" || rt["username"] != "tokman" {
		t.Fatalf("refresh token: %v", rt)
	}
	client := n.do("POST", "/_security/oauth2/token", `{"grant_type":"client_credentials"}`,
		basicAuth("alice", "alice-pw")...).want(t, 200).json(t)["access_token"].(string)
	if c := introspect(t, n, client, gate); c["client_id"] != "alice/default_native" {
		t.Fatalf("client_credentials token: client_id %v", c["client_id"])
	}

	n.do("POST", "/_security/oauth2/token", fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh)).want(t, 200)
	n.do("DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, access)).want(t, 200)
	old, _ := n.issueDirect("alice", fsm.NativeRealm, DefaultTokenTimeout+time.Second)
	for what, tok := range map[string]string{
		"invalidated":    access,
		"spent refresh":  refresh,
		"expired":        old,
		"unknown":        "tka1_" + strings.Repeat("A", len(access)-len("tka1_")),
		"malformed":      "not-a-token",
		"unknown prefix": "zzz" + access,
	} {
		if r := n.postForm(introspectPath, url.Values{"token": {tok}}, gate...).want(t, 200); string(r.body) != `{"active":false}` {
			t.Errorf("%s: %s, want {\"active\":false}", what, r.body)
		}
	}
}

// TestIntrospect_CallerAndRequestErrors: no credentials is a 401 with the
// challenges; a caller without the privilege a 403; a missing or repeated
// token or a JSON body a 400 invalid_request in the OAuth shape.
func TestIntrospect_CallerAndRequestErrors(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	gate := addIntrospector(t, n)
	access, _ := n.issueDirect("alice", fsm.NativeRealm, 0)
	r := n.postForm(introspectPath, url.Values{"token": {access}}).want(t, 401)
	if ch := r.header.Values("WWW-Authenticate"); len(ch) != 2 || ch[1] != `Bearer realm="security"` {
		t.Fatalf("challenges %q", ch)
	}
	n.postForm(introspectPath, url.Values{"token": {access}}, basicAuth("alice", "alice-pw")...).
		wantError(t, 403, "security_exception", "action ["+actionIntrospect+"] is unauthorized for user [alice]")
	n.postForm(introspectPath, url.Values{"token_type_hint": {"access_token"}}, gate...).wantOAuth(t, "invalid_request", "token is missing")
	n.postForm(introspectPath, url.Values{"token": {access, access}}, gate...).
		wantOAuth(t, "invalid_request", "parameter [token] is sent more than once")
	n.do("POST", introspectPath, fmt.Sprintf(`{"token":%q}`, access), gate...).
		wantOAuth(t, "invalid_request", "the body must be application/x-www-form-urlencoded")
	// A bearer caller with the privilege may introspect too.
	elastic, _ := n.passwordGrant("elastic", "elastic-pw")
	if a := introspect(t, n, access, bearer(elastic)); a["active"] != true {
		t.Fatalf("as a bearer caller: %v", a)
	}
}

// TestIntrospect_FollowerConsistency: a token issued through the leader is
// active on a follower that has not applied it yet; after an invalidation
// answered, the follower says active:false; a follower out of contact
// answers 503, never active:false.
func TestIntrospect_FollowerConsistency(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	gate := addIntrospector(t, leader)
	follower := newFollower(t, leader)
	access, refresh := leader.passwordGrant("alice", "alice-pw")
	if a := introspect(t, follower, access, gate); a["active"] != true {
		t.Fatalf("new token on the follower: %v", a)
	}
	if a := introspect(t, follower, refresh, gate); a["active"] != true {
		t.Fatalf("new refresh token on the follower: %v", a)
	}
	follower.postForm(revokePath, url.Values{"token": {refresh}}).want(t, 200)
	for _, tok := range []string{access, refresh} {
		if a := introspect(t, follower, tok, gate); a["active"] != false {
			t.Fatalf("revoked token on the follower: %v", a)
		}
	}
	fresh, _ := leader.passwordGrant("alice", "alice-pw")
	follower.node.set(func(n *fakeNode) { n.lastContact = time.Now().Add(-time.Minute) })
	follower.postForm(introspectPath, url.Values{"token": {fresh}}, gate...).
		wantError(t, 503, "status_exception", "this node has lost contact with the leader")
}

// TestRevoke_RefreshTokenRevokesItsGrant: revoking a refresh token ends the
// access tokens issued with it and from it, and the refresh tokens after
// it, through a follower as on the leader; an access token is revoked
// alone; unknown and malformed tokens get 200, and nothing is written.
func TestRevoke_RefreshTokenRevokesItsGrant(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	a0, r0 := leader.passwordGrant("alice", "alice-pw")
	next := leader.do("POST", "/_security/oauth2/token", fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, r0)).want(t, 200).json(t)
	a1, r1 := next["access_token"].(string), next["refresh_token"].(string)
	other, otherRefresh := leader.passwordGrant("alice", "alice-pw")

	r := follower.postForm(revokePath, url.Values{"token": {r0}, "token_type_hint": {"refresh_token"}}).want(t, 200)
	if len(r.body) != 0 {
		t.Fatalf("body %q, want empty", r.body)
	}
	for _, tok := range []string{a0, a1} {
		follower.do("GET", "/_security/_authenticate", "", bearer(tok)...).wantError(t, 401, "security_exception", "token expired")
	}
	leader.do("POST", "/_security/oauth2/token", fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, r1)).
		wantOAuth(t, "invalid_grant", "token has been invalidated")
	follower.do("GET", "/_security/_authenticate", "", bearer(other)...).want(t, 200)

	// An access token alone: its refresh token stays usable.
	leader.postForm(revokePath, url.Values{"token": {other}, "token_type_hint": {"access_token"}}).want(t, 200)
	follower.do("GET", "/_security/_authenticate", "", bearer(other)...).wantError(t, 401, "security_exception", "token expired")
	leader.do("POST", "/_security/oauth2/token", fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, otherRefresh)).want(t, 200)

	before := proposalCount(leader)
	for _, tok := range []string{"tka1_" + strings.Repeat("A", len(a0)-len("tka1_")), "garbage", other} {
		leader.postForm(revokePath, url.Values{"token": {tok}}).want(t, 200)
	}
	if got := proposalCount(leader) - before; got != 0 {
		t.Fatalf("revoking unknown or revoked tokens wrote %d entries", got)
	}
	leader.postForm(revokePath, url.Values{}).wantOAuth(t, "invalid_request", "token is missing")
}

// TestMetadata_ListsEndpoints: the RFC 8414 document names this node's
// token, introspection and revocation endpoints, the grants and the auth
// methods, without credentials.
func TestMetadata_ListsEndpoints(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	m := n.do("GET", metadataPath, "").want(t, 200).json(t)
	base := n.ts.URL
	if m["issuer"] != base || m["token_endpoint"] != base+"/_security/oauth2/token" ||
		m["introspection_endpoint"] != base+introspectPath || m["revocation_endpoint"] != base+revokePath {
		t.Fatalf("endpoints: %v", m)
	}
	if fmt.Sprint(m["grant_types_supported"]) != "[password refresh_token client_credentials]" ||
		fmt.Sprint(m["introspection_endpoint_auth_methods_supported"]) != "[client_secret_basic bearer]" ||
		fmt.Sprint(m["token_endpoint_auth_methods_supported"]) != "[none client_secret_basic]" {
		t.Fatalf("grants and methods: %v", m)
	}
}

// TestForwardAuth_IdentityHeadersAndChallenges: a live token gets 200, an
// empty body and the identity headers; no token, a bad token and a revoked
// one get 401 with the RFC 6750 challenge, on a follower at once after the
// revocation answered.
func TestForwardAuth_IdentityHeadersAndChallenges(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	access, _ := leader.passwordGrant("tokman", "tokman-pw")
	r := follower.do("GET", forwardAuthPath, "", bearer(access)...).want(t, 200)
	exp, _ := strconv.ParseInt(r.header.Get("X-Tokend-Expires"), 10, 64)
	if left := exp - time.Now().Unix(); len(r.body) != 0 || r.header.Get("X-Tokend-User") != "tokman" ||
		r.header.Get("X-Tokend-Roles") != "token_manager" || r.header.Get("X-Tokend-Realm") != "default_native" || left < 1100 || left > 1300 {
		t.Fatalf("answer %q, headers %v", r.body, r.header)
	}
	if r := follower.do("GET", forwardAuthPath, "", basicAuth("elastic", "elastic-pw")...).want(t, 200); r.header.Get("X-Tokend-Roles") != "superuser" ||
		r.header.Get("X-Tokend-Realm") != "reserved" || r.header.Get("X-Tokend-Expires") != "" {
		t.Fatalf("basic caller headers %v", r.header)
	}
	// Envoy's ext_authz: the original method, the original path appended.
	if r := follower.do("POST", forwardAuthPath+"/app/orders?id=1", "", bearer(access)...).want(t, 200); r.header.Get("X-Tokend-User") != "tokman" {
		t.Fatalf("envoy-style check: headers %v", r.header)
	}
	challenge := func(r resp, want string) {
		t.Helper()
		r.want(t, 401)
		if got := r.header.Values("WWW-Authenticate"); len(got) == 0 || got[len(got)-1] != want {
			t.Fatalf("challenge %q, want %q", got, want)
		}
	}
	challenge(follower.do("GET", forwardAuthPath, ""), challengeBearer)
	challenge(follower.do("GET", forwardAuthPath, "", bearer("tka1_nope")...), challengeMalformed)
	leader.do("DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, access)).want(t, 200)
	challenge(follower.do("GET", forwardAuthPath, "", bearer(access)...), challengeExpired)
}
