package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tokend/tokend/test/testkit"
)

// TestDeployConfigs runs deploy/nginx.conf and deploy/Caddyfile as shipped,
// with only their addresses changed (and, for the test's own prefix, nginx's
// temporary paths and Caddy's admin endpoint): of the three upstream nodes
// the first answers 503 to everything (a node that cannot know), the second
// refuses connections (a node that is down) and the third is a live tokend
// node. Through nginx every request gets its answer from the live node
// (proxy_next_upstream). Caddy cannot retry a response: its readiness probe
// keeps the 503 node out, and a 503 met before the first probe reaches the
// client, which asks again, as README's "Behind a gateway" tells.
func TestDeployConfigs(t *testing.T) {
	live := startNode(t, "node1", "--bootstrap")
	waitStatus(t, live, "/_tokend/readyz", nil, 200)
	admin := testkit.Basic("elastic", superPassword)
	if r := testkit.Do(t, live.URL(), "PUT", "/_security/user/"+gwUser,
		fmt.Sprintf(`{"password":%q,"roles":["viewer","editor"]}`, gwPassword), admin); r.Status != 200 {
		t.Fatalf("creating %s: %d %s", gwUser, r.Status, r.Body)
	}
	be := newBackend(t)
	for _, gw := range []struct {
		name    string
		start   func(*testing.T, upstreams, string) string
		retries int  // how often a client asks again after a 503
		probes  bool // the gateway keeps a 503 node out with readiness probes
	}{{"nginx", startDeployedNginx, 0, false}, {"caddy", startDeployedCaddy, 1, true}} {
		t.Run(gw.name, func(t *testing.T) {
			unavailable := newUnavailable(t)
			up := upstreams{unavailable.addr(), testkit.FreeAddr(t), live.httpAddr}
			u := gw.start(t, up, be.srv.Listener.Addr().String())
			started := unavailable.checks.Load()
			deployCases(t, u, live, be, gw.retries)
			// nginx keeps asking the 503 node (max_fails=0) and retries
			// each time; Caddy's readiness probe keeps it out.
			checks, probes := unavailable.checks.Load(), unavailable.probes.Load()
			if !gw.probes && checks == started {
				t.Fatalf("no check went to the node answering 503 (%d while starting): the retry was not exercised", started)
			}
			if gw.probes && probes == 0 {
				t.Fatal("the node answering 503 was never probed: the readiness check did not run")
			}
			t.Logf("the node answering 503 got %d checks (%d while starting) and %d readiness probes", checks, started, probes)
		})
	}
}

// upstreams are the addresses standing in for the deploy files' three
// nodes, 127.0.0.1:9200-9202, in that order.
type upstreams [3]string

// unavailable is a node that cannot know: 503 to every request, as tokend
// answers without a leader. It counts token checks and readiness probes.
type unavailable struct {
	srv            *httptest.Server
	checks, probes atomic.Int64
}

func newUnavailable(t *testing.T) *unavailable {
	u := &unavailable{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_tokend/readyz" {
			u.probes.Add(1)
		} else {
			u.checks.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":{"type":"cluster_block_exception","reason":"no leader"},"status":503}`))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *unavailable) addr() string { return u.srv.Listener.Addr().String() }

// deployCases checks, through the gateway at u in front of one live node:
// tokens reach the backend with their identity (asking again after a 503
// at most retries times), no token is refused with the challenge, and an
// invalidated token is refused at once.
func deployCases(t *testing.T, u string, live *node, be *backend, retries int) {
	get := func(h http.Header) testkit.Response {
		r := testkit.Do(t, u, "GET", "/app", "", h)
		for i := 0; i < retries && r.Status == http.StatusServiceUnavailable; i++ {
			r = testkit.Do(t, u, "GET", "/app", "", h)
		}
		return r
	}
	access, _ := token(t, live)
	for i := 0; i < 6; i++ { // twice round each gateway's three upstreams
		r := get(testkit.Bearer(access))
		seen := map[string]string{}
		if r.Status != 200 || json.Unmarshal(r.Body, &seen) != nil || seen["X-Tokend-User"] != gwUser {
			t.Fatalf("request %d: %d, backend saw %s", i+1, r.Status, r.Body)
		}
	}
	before := be.hits.Load()
	refused(t, get(nil), `Bearer realm="security"`, be, before)
	if inv := testkit.Do(t, live.URL(), "DELETE", "/_security/oauth2/token", fmt.Sprintf(`{"token":%q}`, access), nil); inv.Status != 200 {
		t.Fatalf("invalidate: %d %s", inv.Status, inv.Body)
	}
	refused(t, get(testkit.Bearer(access)),
		`Bearer realm="security", error="invalid_token", error_description="The access token expired"`, be, before)
}

// deployFile returns a file of deploy/ with each old text replaced by its
// new one; every old text must occur exactly once, so that a changed
// deploy file fails this test instead of going untested.
func deployFile(t *testing.T, name string, oldNew ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i < len(oldNew); i += 2 {
		if n := strings.Count(s, oldNew[i]); n != 1 {
			t.Fatalf("deploy/%s holds %q %d times, want once", name, oldNew[i], n)
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	return s
}

// startDeployedNginx runs deploy/nginx.conf over up and the backend and
// returns its URL.
func startDeployedNginx(t *testing.T, up upstreams, backend string) string {
	bin := findBinary(t, "nginx", "/usr/sbin/nginx")
	dir, addr := t.TempDir(), testkit.FreeAddr(t)
	conf := deployFile(t, "nginx.conf",
		"server 127.0.0.1:9200 ", "server "+up[0]+" ",
		"server 127.0.0.1:9201 ", "server "+up[1]+" ",
		"server 127.0.0.1:9202 ", "server "+up[2]+" ",
		"server 127.0.0.1:8080;", "server "+backend+";",
		"listen 8000;", "listen "+addr+";",
		"http {\n", "http {\n"+strings.ReplaceAll(`client_body_temp_path D/body; proxy_temp_path D/proxy;
fastcgi_temp_path D/fastcgi; uwsgi_temp_path D/uwsgi; scgi_temp_path D/scgi;
`, "D", dir))
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &gateway{name: "nginx", urls: []string{"http://" + addr}}
	g.run(t, bin, nil, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	return g.urls[0]
}

// startDeployedCaddy runs deploy/Caddyfile over up and the backend and
// returns its URL.
func startDeployedCaddy(t *testing.T, up upstreams, backend string) string {
	bin := findBinary(t, "caddy")
	dir, addr := t.TempDir(), testkit.FreeAddr(t)
	conf := deployFile(t, "Caddyfile",
		"\tauto_https off\n", "\tadmin off\n\tauto_https off\n",
		"http://:8000 {", "http://"+addr+" {",
		"forward_auth 127.0.0.1:9200 127.0.0.1:9201 127.0.0.1:9202 {", "forward_auth "+strings.Join(up[:], " ")+" {",
		"reverse_proxy 127.0.0.1:8080", "reverse_proxy "+backend)
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &gateway{name: "caddy", urls: []string{"http://" + addr}}
	env := []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
	g.run(t, bin, env, "run", "--config", path, "--adapter", "caddyfile")
	return g.urls[0]
}
