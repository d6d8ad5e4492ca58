package api

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
)

func TestAuth_MissingCredentialsOffersBothSchemes(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	r := n.do("GET", "/_security/_authenticate?pretty=false", "")
	r.wantError(t, 401, "security_exception", "missing authentication credentials for REST request [/_security/_authenticate?pretty=false]")
	got := r.header.Values("WWW-Authenticate")
	if len(got) != 2 || got[0] != `Basic realm="security" charset="UTF-8"` || got[1] != `Bearer realm="security"` {
		t.Fatalf("WWW-Authenticate: %q", got)
	}
}

func TestBearer_MalformedUnknownExpired(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	unknown, _ := credentials.NewToken(credentials.AccessPrefix)
	expired, _ := n.issueDirect("alice", fsm.NativeRealm, 21*time.Minute)
	cases := []struct {
		token, reason, challenge string
	}{
		{"tka1_short", "token malformed", challengeMalformed},
		{"tkr1_" + strings.Repeat("A", 43), "token malformed", challengeMalformed}, // a refresh token is no access token
		{credentials.AccessPrefix + strings.Repeat("!", 43), "token malformed", challengeMalformed},
		{unknown, "unable to authenticate with provided credentials", challengeInvalid},
		{expired, "token expired", challengeExpired},
	}
	for _, c := range cases {
		r := n.do("GET", "/_security/_authenticate", "", bearer(c.token)...)
		r.wantError(t, 401, "security_exception", c.reason)
		if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != c.challenge {
			t.Fatalf("%s: WWW-Authenticate %q", c.token, got)
		}
		if !strings.Contains(c.challenge, `error="invalid_token"`) {
			t.Fatalf("challenge without invalid_token: %s", c.challenge)
		}
	}
	// The unknown token made the leader confirm its read index first.
	if n.node.readIndexes == 0 {
		t.Fatal("an unknown token was refused without catching up")
	}
}

func TestAuth_TwoCredentialsAreABadRequest(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	access, _ := n.issueDirect("alice", fsm.NativeRealm, 0)
	basic := basicAuth("alice", "alice-pw")
	want := "a request may carry only one set of credentials (Basic or Bearer)"
	n.do("GET", "/_security/_authenticate", "", append(basic, bearer(access)...)...).wantError(t, 400, "illegal_argument_exception", want)
	n.do("GET", "/_security/_authenticate", "", "Authorization", basic[1]+", Bearer "+access).wantError(t, 400, "illegal_argument_exception", want)
}

func TestBasic_FailuresAndSuccess(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	who := n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 200).json(t)
	realm := who["authentication_realm"].(map[string]any)
	if who["authentication_type"] != "realm" || realm["name"] != "default_native" || who["full_name"] != nil {
		t.Fatalf("authenticate: %v", who)
	}
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "nope-nope")...).wantError(t, 401, "security_exception",
		"unable to authenticate user [alice] for REST request [/_security/_authenticate]")
	n.do("GET", "/_security/_authenticate", "", "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("no-colon"))).
		wantError(t, 401, "security_exception", "invalid basic authentication header value")
}

func TestPrivileges_RolesGrantActions(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	n.do("GET", "/_cluster/health", "", basicAuth("alice", "alice-pw")...).wantError(t, 403, "security_exception",
		"action [cluster:monitor/health] is unauthorized for user [alice]")
	n.do("GET", "/_cluster/health", "", basicAuth("monty", "monty-pw")...).want(t, 200)
	n.do("GET", "/_security/user", "", basicAuth("monty", "monty-pw")...).wantError(t, 403, "security_exception",
		"action [cluster:admin/xpack/security/user/get] is unauthorized for user [monty]")
	n.do("GET", "/_tokend/cluster/nodes", "", basicAuth("monty", "monty-pw")...).want(t, 200)
	n.do("DELETE", "/_tokend/cluster/nodes/n9", "", basicAuth("monty", "monty-pw")...).wantError(t, 403, "security_exception",
		"action [cluster:admin/tokend/remove] is unauthorized for user [monty]")
}

func TestDisablingAUser_EndsItsTokensAndLogins(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	access, _ := n.passwordGrant("alice", "alice-pw")
	n.do("GET", "/_security/_authenticate", "", bearer(access)...).want(t, 200)
	n.do("PUT", "/_security/user/alice/_disable", "", basicAuth("elastic", "elastic-pw")...).want(t, 200)
	n.do("GET", "/_security/_authenticate", "", bearer(access)...).wantError(t, 401, "security_exception", "token expired")
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 401)
	n.do("PUT", "/_security/user/alice/_enable", "", basicAuth("elastic", "elastic-pw")...).want(t, 200)
	n.do("GET", "/_security/_authenticate", "", basicAuth("alice", "alice-pw")...).want(t, 200)
}
