package gateway

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// identityHeaders are the headers /_tokend/auth answers with and the
// gateways hand to the backend.
var identityHeaders = []string{"X-Tokend-User", "X-Tokend-Roles", "X-Tokend-Realm", "X-Tokend-Expires"}

// gateway is one running gateway process with a listener per tokend node:
// listener i asks node i.
type gateway struct {
	name  string
	urls  []string
	out   *testkit.Buffer
	cmd   *exec.Cmd
	done  chan struct{}
	nodes []*node
}

// findBinary returns the path of a gateway binary, or skips the test.
func findBinary(t *testing.T, name string, also ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range also {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skipf("%s is not installed (apt-get install %s; .ci/run does): gateway tests for it skipped", name, name)
	return ""
}

// run starts bin with args in dir and waits until every listener answers
// a request without credentials with 401, which needs tokend behind it.
func (g *gateway) run(t *testing.T, bin string, env []string, args ...string) {
	t.Helper()
	g.out, g.done = &testkit.Buffer{}, make(chan struct{})
	g.cmd = exec.Command(bin, args...)
	g.cmd.Env = append(os.Environ(), env...)
	g.cmd.Stdout, g.cmd.Stderr = g.out, g.out
	// A process group of its own: nginx's workers outlive a killed master
	// and hold its output open.
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
		<-g.done
		if t.Failed() {
			t.Logf("%s output:\n%s", g.name, g.out.Tail(60))
		}
	})
	for _, u := range g.urls {
		testkit.Eventually(t, 30*time.Second, g.name+" at "+u+" up", func() error {
			select {
			case <-g.done:
				t.Fatalf("%s exited:\n%s", g.name, g.out.String())
			default:
			}
			r, err := testkit.TryDo(u, "GET", "/", "", nil)
			if err != nil {
				return err
			}
			if r.Status != 401 {
				return fmt.Errorf("status %d", r.Status)
			}
			return nil
		})
	}
}

// startNginx runs nginx with auth_request, one server block per node.
func startNginx(t *testing.T, nodes []*node, backend string) *gateway {
	bin := findBinary(t, "nginx", "/usr/sbin/nginx")
	dir := t.TempDir()
	g := &gateway{name: "nginx", nodes: nodes}
	var servers strings.Builder
	for _, n := range nodes {
		addr := testkit.FreeAddr(t)
		g.urls = append(g.urls, "http://"+addr)
		fmt.Fprintf(&servers, nginxServer, addr, n.httpAddr)
	}
	conf := fmt.Sprintf(nginxConf, dir, backend, servers.String())
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	g.run(t, bin, nil, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	return g
}

// nginxConf is the test's nginx.conf: prefix dir, backend address and the
// server blocks. deploy/nginx.conf is the same over an upstream of nodes.
const nginxConf = `worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    upstream backend { server %[2]s; keepalive 16; }
%[3]s}
`

// nginxServer is one listener (address) asking one node (address).
// auth_request passes a 401's WWW-Authenticate on by itself.
const nginxServer = `    server {
        listen %s;
        location = /_tokend_auth {
            internal;
            proxy_pass http://%s/_tokend/auth;
            proxy_method GET;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_connect_timeout 2s;
            proxy_read_timeout 15s;
        }
        location / {
            auth_request /_tokend_auth;
            auth_request_set $tokend_user $upstream_http_x_tokend_user;
            auth_request_set $tokend_roles $upstream_http_x_tokend_roles;
            auth_request_set $tokend_realm $upstream_http_x_tokend_realm;
            auth_request_set $tokend_expires $upstream_http_x_tokend_expires;
            proxy_set_header X-Tokend-User $tokend_user;
            proxy_set_header X-Tokend-Roles $tokend_roles;
            proxy_set_header X-Tokend-Realm $tokend_realm;
            proxy_set_header X-Tokend-Expires $tokend_expires;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://backend;
        }
    }
`

// startCaddy runs Caddy with forward_auth, one site per node.
func startCaddy(t *testing.T, nodes []*node, backend string) *gateway {
	bin := findBinary(t, "caddy")
	dir := t.TempDir()
	g := &gateway{name: "caddy", nodes: nodes}
	var sites strings.Builder
	for _, n := range nodes {
		addr := testkit.FreeAddr(t)
		g.urls = append(g.urls, "http://"+addr)
		fmt.Fprintf(&sites, caddySite, addr, n.httpAddr, backend)
	}
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(caddyGlobal+sites.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
	g.run(t, bin, env, "run", "--config", path, "--adapter", "caddyfile")
	return g
}

// caddyGlobal turns off the admin endpoint and automatic HTTPS.
const caddyGlobal = `{
	admin off
	auto_https off
}
`

// caddySite is one listener (address) asking one node (address) in front
// of the backend (address). Identity headers a client sends are dropped
// first: Caddy 2.6's copy_headers leaves a client's header in place when the
// auth answer lacks it. route keeps the directives in this order.
const caddySite = `http://%s {
	route {
		request_header -X-Tokend-User
		request_header -X-Tokend-Roles
		request_header -X-Tokend-Realm
		request_header -X-Tokend-Expires
		forward_auth %s {
			uri /_tokend/auth
			copy_headers X-Tokend-User X-Tokend-Roles X-Tokend-Realm X-Tokend-Expires
		}
		reverse_proxy %s
	}
}
`
