package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// Settings of every test cluster.
const (
	superPassword = "docker-superuser-pw"
	nodeSecret    = "docker-test-node-secret"
	repoRoot      = "../.."
)

// services are the compose services, which are also the node IDs.
var services = []string{"tokend1", "tokend2", "tokend3"}

// requireDocker skips the test unless docker, an answering engine and
// docker-compose are all available.
func requireDocker(t *testing.T, ctx context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped under -short: builds an image and runs a three-container cluster")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker is not on PATH")
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Skip("docker-compose is not on PATH")
	}
	probeCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(probeCtx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		t.Skipf("the Docker engine does not answer: %v: %s", err, bytes.TrimSpace(out))
	}
}

// cluster is one docker-compose project of deploy/docker-compose.yml.
type cluster struct {
	ctx     context.Context
	project string
	image   string
	file    string
	env     []string
	urls    map[string]string // service -> https://127.0.0.1:port
	certs   string            // the compose file's TOKEND_CERTS_DIR
}

// newCluster names a fresh project and image and picks free host ports. It
// starts nothing.
func newCluster(t *testing.T, ctx context.Context) *cluster {
	t.Helper()
	suffix := randomHex(t)
	file, err := filepath.Abs(filepath.Join(repoRoot, "deploy", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{ctx: ctx, project: "tokendtest" + suffix, image: "tokend:test-" + suffix, file: file,
		urls: map[string]string{}, certs: filepath.Join(t.TempDir(), "certs")}
	c.env = append(os.Environ(), "TOKEND_IMAGE="+c.image, "ELASTIC_PASSWORD="+superPassword,
		"TOKEND_NODE_SECRET="+nodeSecret, "TOKEND_CERTS_DIR="+c.certs)
	for i, svc := range services {
		_, port, err := net.SplitHostPort(testkit.FreeAddr(t))
		if err != nil {
			t.Fatal(err)
		}
		c.env = append(c.env, fmt.Sprintf("TOKEND_HTTP_PORT_%d=%s", i+1, port))
		c.urls[svc] = "https://127.0.0.1:" + port
	}
	return c
}

// build runs scripts/docker-build.sh for the test's image tag (the image
// is removed when the test ends) and scripts/compose-certs.sh for the
// project's certificates, whose CA the test's client then trusts.
func (c *cluster) build(t *testing.T) {
	t.Helper()
	certs := exec.CommandContext(c.ctx, filepath.Join(repoRoot, "scripts", "compose-certs.sh"))
	certs.Env = c.env
	if out, err := certs.CombinedOutput(); err != nil {
		t.Fatalf("scripts/compose-certs.sh: %v\n%s", err, out)
	}
	testkit.TrustCA(t, filepath.Join(c.certs, "ca.crt"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "docker", "rmi", c.image).CombinedOutput(); err != nil {
			t.Logf("docker rmi %s: %v: %s", c.image, err, bytes.TrimSpace(out))
		}
	})
	cmd := exec.CommandContext(c.ctx, filepath.Join(repoRoot, "scripts", "docker-build.sh"))
	cmd.Env = c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/docker-build.sh: %v\n%s", err, out)
	}
}

// up starts the project. Whatever happens next, the containers, network and
// volumes are removed when the test ends, after the logs of a failed test
// are printed.
func (c *cluster) up(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if t.Failed() {
			out, _ := c.command(ctx, "logs", "--no-color", "--tail=60").CombinedOutput()
			t.Logf("docker-compose logs:\n%s", out)
		}
		if out, err := c.command(ctx, "down", "-v", "--timeout", "10").CombinedOutput(); err != nil {
			t.Errorf("docker-compose down -v: %v\n%s", err, out)
		}
	})
	c.compose(t, "up", "-d")
}

// compose runs one docker-compose command against the project.
func (c *cluster) compose(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.command(c.ctx, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// command prepares docker-compose with the project name, file and settings.
func (c *cluster) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "docker-compose", append([]string{"-p", c.project, "-f", c.file}, args...)...)
	cmd.Env = c.env
	return cmd
}

// state is a service container's status and exit code, as "exited 0".
func (c *cluster) state(t *testing.T, svc string) string {
	t.Helper()
	id := strings.TrimSpace(c.compose(t, "ps", "-q", svc))
	out, err := exec.CommandContext(c.ctx, "docker", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", id).CombinedOutput()
	if err != nil {
		t.Fatalf("docker inspect %s: %v: %s", svc, err, out)
	}
	return strings.TrimSpace(string(out))
}

// health is a service container's health check status (starting,
// healthy, unhealthy), from its HEALTHCHECK running `tokend probe`.
func (c *cluster) health(t *testing.T, svc string) string {
	t.Helper()
	id := strings.TrimSpace(c.compose(t, "ps", "-q", svc))
	out, err := exec.CommandContext(c.ctx, "docker", "inspect", "--format", "{{.State.Health.Status}}", id).CombinedOutput()
	if err != nil {
		t.Fatalf("docker inspect %s: %v: %s", svc, err, out)
	}
	return strings.TrimSpace(string(out))
}

// randomHex returns 12 random hex digits for unique names.
func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// contextWithBudget bounds the test by testBudget, or by go test's own
// deadline less cleanupReserve if that comes sooner: a test stopped by
// go test's timeout would not run its cleanups.
func contextWithBudget(t *testing.T) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(testBudget)
	if d, ok := t.Deadline(); ok && d.Add(-cleanupReserve).Before(deadline) {
		deadline = d.Add(-cleanupReserve)
	}
	return context.WithDeadline(context.Background(), deadline)
}

// eventually is testkit.Eventually with timeout cut to what is left of the
// test's budget.
func (c *cluster) eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if d, ok := c.ctx.Deadline(); ok {
		timeout = max(0, min(timeout, time.Until(d)))
	}
	testkit.Eventually(t, timeout, what, cond)
}
