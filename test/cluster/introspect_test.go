package cluster

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// introspect asks nd, as elastic, about token (RFC 7662) and returns the
// status and, for a 200, whether the answer says active.
func introspect(t *testing.T, nd *node, token string) (status int, active bool) {
	t.Helper()
	r := testkit.Form(t, nd.URL(), "/oauth2/introspect", url.Values{"token": {token}}, admin)
	if r.Status != 200 {
		return r.Status, false
	}
	return 200, r.JSON(t)["active"] == true
}

// TestCluster_IntrospectionSeesEveryIssueAndRevocationAtOnce: a token
// issued through any node is active on every node without waiting, and
// once a revocation (RFC 7009, of the refresh token: its access token goes
// too) answered through another node, no node says active or lets the
// access token through /_tokend/auth.
func TestCluster_IntrospectionSeesEveryIssueAndRevocationAtOnce(t *testing.T) {
	nodes := startCluster(t, 3)
	for i, issuer := range nodes {
		access, refresh := passwordGrant(t, issuer)
		for _, nd := range nodes {
			for _, tok := range []string{access, refresh} {
				if s, active := introspect(t, nd, tok); s != 200 || !active {
					t.Fatalf("token issued on %s: introspection on %s = %d, active %v", issuer.id, nd.id, s, active)
				}
			}
		}
		via := nodes[(i+1)%len(nodes)]
		if r := testkit.Form(t, via.URL(), "/oauth2/revoke", url.Values{"token": {refresh}, "token_type_hint": {"refresh_token"}}, nil); r.Status != 200 {
			t.Fatalf("revoke through %s: %d %s", via.id, r.Status, r.Body)
		}
		for _, nd := range nodes {
			for _, tok := range []string{access, refresh} {
				if s, active := introspect(t, nd, tok); s != 200 || active {
					t.Fatalf("revoked through %s: introspection on %s = %d, active %v", via.id, nd.id, s, active)
				}
			}
			if s := do(t, nd, "GET", "/_tokend/auth", "", testkit.Bearer(access)).Status; s != 401 {
				t.Fatalf("revoked through %s: /_tokend/auth on %s = %d", via.id, nd.id, s)
			}
		}
	}
}

// TestCluster_IntrospectionWithoutALeaderSays503NeverInactive: a follower
// left alone answers for a live token active:true while its read lease
// holds, then 503; never active:false.
func TestCluster_IntrospectionWithoutALeaderSays503NeverInactive(t *testing.T) {
	nodes := startCluster(t, 3)
	l := leader(t, nodes)
	access, _ := passwordGrant(t, l)
	alone := followers(nodes, l)[0]
	for _, nd := range nodes {
		if nd != alone {
			nd.stop()
		}
	}
	testkit.Eventually(t, 30*time.Second, alone.id+" alone answers 503", func() error {
		switch s, active := introspect(t, alone, access); {
		case s == 503:
			return nil
		case s == 200 && active:
			return fmt.Errorf("still active: its lease holds")
		default:
			t.Fatalf("%s alone answers %d, active %v, for a live token", alone.id, s, active)
			return nil
		}
	})
}
