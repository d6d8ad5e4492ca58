package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// backend echoes, as JSON, the identity headers of each request it gets,
// and counts them.
type backend struct {
	srv  *httptest.Server
	hits atomic.Int64
}

func newBackend(t *testing.T) *backend {
	b := &backend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		seen := map[string]string{}
		for _, h := range identityHeaders {
			seen[h] = r.Header.Get(h)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// gwUser is the user whose tokens go through the gateways.
const (
	gwUser     = "gwuser"
	gwPassword = "gwuser-password"
	gwRoles    = "viewer,editor"
)

// TestGateways runs every case through nginx and Caddy on every node's
// address: a valid token reaches the backend with its identity (and a
// client's own identity headers are replaced); no token, a bad token and an
// invalidated or revoked token are refused at the gateway with the RFC 6750
// challenge, at once after the invalidation answered, without reaching
// the backend. Subtests are named gateway/node/case: the test matrix.
func TestGateways(t *testing.T) {
	nodes := startCluster(t)
	admin := testkit.Basic("elastic", superPassword)
	if r := testkit.Do(t, nodes[0].URL(), "PUT", "/_security/user/"+gwUser,
		fmt.Sprintf(`{"password":%q,"roles":["viewer","editor"]}`, gwPassword), admin); r.Status != 200 {
		t.Fatalf("creating %s: %d %s", gwUser, r.Status, r.Body)
	}
	be := newBackend(t)
	backendAddr := be.srv.Listener.Addr().String()
	for _, gw := range []struct {
		name  string
		start func(*testing.T, []*node, string) *gateway
	}{{"nginx", startNginx}, {"caddy", startCaddy}} {
		t.Run(gw.name, func(t *testing.T) {
			g := gw.start(t, nodes, backendAddr)
			for i, u := range g.urls {
				t.Run(nodes[i].id, func(t *testing.T) { gatewayCases(t, g, nodes, i, u, be) })
			}
		})
	}
}

// token gets a fresh access and refresh token of gwUser through n.
func token(t *testing.T, n *node) (string, string) {
	t.Helper()
	r := testkit.Do(t, n.URL(), "POST", "/_security/oauth2/token",
		fmt.Sprintf(`{"grant_type":"password","username":%q,"password":%q}`, gwUser, gwPassword), nil)
	if r.Status != 200 {
		t.Fatalf("password grant: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	return m["access_token"].(string), m["refresh_token"].(string)
}

// refused checks a 401 from the gateway carrying the challenge want and no
// visit to the backend.
func refused(t *testing.T, r testkit.Response, want string, be *backend, hitsBefore int64) {
	t.Helper()
	if r.Status != 401 {
		t.Fatalf("status %d, want 401: %s", r.Status, r.Body)
	}
	if got := r.Header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != want {
		t.Fatalf("WWW-Authenticate %q, want %q", got, want)
	}
	if be.hits.Load() != hitsBefore {
		t.Fatal("a refused request reached the backend")
	}
}

// gatewayCases runs the cases through listener u of g, which asks node i.
// Tokens are issued and invalidated through the other nodes.
func gatewayCases(t *testing.T, g *gateway, nodes []*node, i int, u string, be *backend) {
	issuer, revoker := nodes[(i+1)%len(nodes)], nodes[(i+2)%len(nodes)]
	t.Run("valid", func(t *testing.T) {
		access, _ := token(t, issuer)
		r := testkit.Do(t, u, "GET", "/app", "", testkit.Bearer(access))
		if r.Status != 200 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		seen := map[string]string{}
		if err := json.Unmarshal(r.Body, &seen); err != nil {
			t.Fatalf("backend answer %s: %v", r.Body, err)
		}
		exp, _ := strconv.ParseInt(seen["X-Tokend-Expires"], 10, 64)
		if seen["X-Tokend-User"] != gwUser || seen["X-Tokend-Roles"] != gwRoles || seen["X-Tokend-Realm"] != "default_native" ||
			exp < time.Now().Unix() {
			t.Fatalf("backend saw %v", seen)
		}
	})
	t.Run("forged identity headers", func(t *testing.T) {
		access, _ := token(t, issuer)
		h := testkit.Bearer(access)
		h.Set("X-Tokend-User", "elastic")
		h.Set("X-Tokend-Roles", "superuser")
		r := testkit.Do(t, u, "GET", "/app", "", h)
		seen := map[string]string{}
		if r.Status != 200 || json.Unmarshal(r.Body, &seen) != nil || seen["X-Tokend-User"] != gwUser || seen["X-Tokend-Roles"] != gwRoles {
			t.Fatalf("%d, backend saw %s", r.Status, r.Body)
		}
	})
	t.Run("no token", func(t *testing.T) {
		before := be.hits.Load()
		refused(t, testkit.Do(t, u, "GET", "/app", "", nil), `Bearer realm="security"`, be, before)
	})
	t.Run("bad token", func(t *testing.T) {
		before := be.hits.Load()
		refused(t, testkit.Do(t, u, "GET", "/app", "", testkit.Bearer("tka1_forged")),
			`Bearer realm="security", error="invalid_token", error_description="The access token is malformed"`, be, before)
	})
	t.Run("invalidated", func(t *testing.T) {
		access, _ := token(t, issuer)
		if r := testkit.Do(t, u, "GET", "/app", "", testkit.Bearer(access)); r.Status != 200 {
			t.Fatalf("before the invalidation: %d %s", r.Status, r.Body)
		}
		inv := testkit.Do(t, revoker.URL(), "DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, access), nil)
		if inv.Status != 200 {
			t.Fatalf("invalidate: %d %s", inv.Status, inv.Body)
		}
		before := be.hits.Load()
		refused(t, testkit.Do(t, u, "GET", "/app", "", testkit.Bearer(access)),
			`Bearer realm="security", error="invalid_token", error_description="The access token expired"`, be, before)
	})
	t.Run("refresh token revoked", func(t *testing.T) {
		access, refresh := token(t, issuer)
		rev := testkit.Form(t, revoker.URL(), "/oauth2/revoke", url.Values{"token": {refresh}, "token_type_hint": {"refresh_token"}}, nil).Status
		if rev != 200 {
			t.Fatalf("revoke: %d", rev)
		}
		before := be.hits.Load()
		refused(t, testkit.Do(t, u, "GET", "/app", "", testkit.Bearer(access)),
			`Bearer realm="security", error="invalid_token", error_description="The access token expired"`, be, before)
	})
}
