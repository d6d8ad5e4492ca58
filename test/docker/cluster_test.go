package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// Time bounds. testBudget bounds the whole test, image build included;
// cleanupReserve is kept for tearing down before go test's own deadline;
// the others bound single waits within the budget.
const (
	testBudget     = 4 * time.Minute
	cleanupReserve = time.Minute
	formTimeout    = 90 * time.Second
	electTimeout   = 30 * time.Second
	catchUp        = 60 * time.Second
)

func TestCompose_TokensSurviveStoppedFollowerKilledLeaderAndNewAddresses(t *testing.T) {
	began := time.Now()
	ctx, cancel := contextWithBudget(t)
	defer cancel()
	requireDocker(t, ctx)
	c := newCluster(t, ctx)
	c.build(t)
	t.Logf("image %s built in %v", c.image, time.Since(began).Round(time.Millisecond))

	upAt := time.Now()
	c.up(t)
	c.waitFormed(t)
	t.Logf("three containers formed one cluster in %v", time.Since(upAt).Round(time.Millisecond))
	c.eventually(t, formTimeout, "every container healthy (tokend probe)", func() error {
		for _, svc := range services {
			if h := c.health(t, svc); h != "healthy" {
				return fmt.Errorf("%s: %s", svc, h)
			}
		}
		return nil
	})

	first := c.issue(t, "tokend1")
	c.requireAuthenticates(t, "tokend2", first)
	c.requireAuthenticates(t, "tokend3", first)

	t.Run("StoppedFollower", func(t *testing.T) {
		c.outage(t, otherThan(c.leader(t, "tokend1"))[0], "stop", first)
	})
	t.Run("KilledLeader", func(t *testing.T) {
		c.outage(t, c.leader(t, "tokend1"), "kill", first)
	})
	t.Run("RecreatedWithNewAddresses", func(t *testing.T) {
		c.recreate(t, first)
	})
	t.Logf("whole test %v", time.Since(began).Round(time.Millisecond))
}

// outage takes service down with docker-compose (stop or kill), checks that
// the two others elect a leader if needed and keep issuing and
// authenticating tokens, then starts it again and checks that it catches up:
// the token issued while it was down, and old, authenticate on it. A
// stopped node must have exited cleanly (SIGTERM as PID 1, within the grace
// period).
func (c *cluster) outage(t *testing.T, down, how, old string) {
	t.Helper()
	survivors := otherThan(down)
	at := time.Now()
	c.compose(t, how, down)
	t.Logf("docker-compose %s %s took %v", how, down, time.Since(at).Round(time.Millisecond))
	if got := c.state(t, down); how == "stop" && got != "exited 0" {
		t.Errorf("%s after docker-compose stop: %s, want exited 0", down, got)
	}
	at = time.Now()
	c.eventually(t, electTimeout, survivors[0]+" reports a surviving leader", func() error {
		leader, err := c.tryLeader(survivors[0])
		if err == nil && !slices.Contains(survivors, leader) {
			err = fmt.Errorf("leader is %q", leader)
		}
		return err
	})
	t.Logf("%s reports a surviving leader %v later", survivors[0], time.Since(at).Round(time.Millisecond))

	during := c.issue(t, survivors[0])
	c.requireAuthenticates(t, survivors[1], during)
	c.requireAuthenticates(t, survivors[1], old)

	at = time.Now()
	c.compose(t, "start", down)
	c.eventually(t, catchUp, down+" authenticates the token issued while it was down", func() error {
		return c.authenticates(down, during)
	})
	c.requireAuthenticates(t, down, old)
	t.Logf("%s restarted and caught up in %v", down, time.Since(at).Round(time.Millisecond))
	c.waitFormed(t)
}

// recreate takes the whole project down but keeps its volumes, holds the
// network's old address range with another network so that every container
// comes back at a new IP address, and brings it up again: the nodes must
// find each other by name and keep their state, old tokens included.
func (c *cluster) recreate(t *testing.T, old string) {
	t.Helper()
	before := c.subnet(t)
	c.compose(t, "down", "--timeout", "20")
	squat := c.project + "_squat"
	if out, err := exec.CommandContext(c.ctx, "docker", "network", "create", "--subnet", before, squat).CombinedOutput(); err != nil {
		t.Fatalf("docker network create %s: %v: %s", squat, err, out)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = exec.CommandContext(ctx, "docker", "network", "rm", squat).Run()
	})
	at := time.Now()
	c.compose(t, "up", "-d")
	if after := c.subnet(t); after == before {
		t.Fatalf("network came back on the same subnet %s", after)
	}
	c.waitFormed(t)
	t.Logf("recreated on a new network, formed again in %v", time.Since(at).Round(time.Millisecond))
	for _, svc := range services {
		c.requireAuthenticates(t, svc, old)
	}
}

// subnet is the address range of the project's default network.
func (c *cluster) subnet(t *testing.T) string {
	t.Helper()
	out, err := exec.CommandContext(c.ctx, "docker", "network", "inspect", c.project+"_default",
		"--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}").CombinedOutput()
	if err != nil {
		t.Fatalf("docker network inspect: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// waitFormed polls until every node answers ready and reports three voters
// with HTTP addresses and one leader.
func (c *cluster) waitFormed(t *testing.T) {
	t.Helper()
	c.eventually(t, formTimeout, "three-node cluster formed", func() error {
		for _, svc := range services {
			r, err := testkit.TryDo(c.urls[svc], "GET", "/_tokend/readyz", "", nil)
			if err != nil {
				return fmt.Errorf("%s: %w", svc, err)
			}
			if r.Status != 200 {
				return fmt.Errorf("%s readyz: %d", svc, r.Status)
			}
			if voters, err := c.voters(svc); err != nil || voters != len(services) {
				return fmt.Errorf("%s: %d voters: %v", svc, voters, err)
			}
		}
		return nil
	})
}

// membership is the part of GET /_tokend/cluster/nodes the test reads.
type membership struct {
	Leader string `json:"leader"`
	Nodes  []struct {
		Voter    bool   `json:"voter"`
		HTTPAddr string `json:"http_addr"`
	} `json:"nodes"`
}

// members asks svc for the cluster's members.
func (c *cluster) members(svc string) (membership, error) {
	var m membership
	r, err := testkit.TryDo(c.urls[svc], "GET", "/_tokend/cluster/nodes", "", testkit.Basic("elastic", superPassword))
	if err != nil {
		return m, err
	}
	if r.Status != 200 {
		return m, fmt.Errorf("cluster/nodes on %s: %d %s", svc, r.Status, r.Body)
	}
	return m, json.Unmarshal(r.Body, &m)
}

// voters counts the voters svc knows with an HTTP address, once it knows a
// leader.
func (c *cluster) voters(svc string) (int, error) {
	m, err := c.members(svc)
	if err != nil {
		return 0, err
	}
	if m.Leader == "" {
		return 0, fmt.Errorf("%s knows no leader", svc)
	}
	n := 0
	for _, nd := range m.Nodes {
		if nd.Voter && nd.HTTPAddr != "" {
			n++
		}
	}
	return n, nil
}

// tryLeader returns the leader's node ID as svc reports it.
func (c *cluster) tryLeader(svc string) (string, error) {
	m, err := c.members(svc)
	if err == nil && m.Leader == "" {
		err = fmt.Errorf("%s knows no leader", svc)
	}
	return m.Leader, err
}

// leader is tryLeader failing the test on error.
func (c *cluster) leader(t *testing.T, svc string) string {
	t.Helper()
	id, err := c.tryLeader(svc)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// issue gets an access token with the password grant through svc's
// published port.
func (c *cluster) issue(t *testing.T, svc string) string {
	t.Helper()
	body := fmt.Sprintf(`{"grant_type":"password","username":"elastic","password":%q}`, superPassword)
	r := testkit.Do(t, c.urls[svc], "POST", "/_security/oauth2/token", body, nil)
	if r.Status != 200 {
		t.Fatalf("password grant on %s: %d %s", svc, r.Status, r.Body)
	}
	token, _ := r.JSON(t)["access_token"].(string)
	if token == "" {
		t.Fatalf("password grant on %s: no access_token in %s", svc, r.Body)
	}
	return token
}

// authenticates reports why svc does not accept token as the elastic user's
// Bearer token, or nil if it does.
func (c *cluster) authenticates(svc, token string) error {
	r, err := testkit.TryDo(c.urls[svc], "GET", "/_security/_authenticate", "", testkit.Bearer(token))
	if err != nil {
		return fmt.Errorf("%s: %w", svc, err)
	}
	var who struct {
		Username string `json:"username"`
		Type     string `json:"authentication_type"`
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &who) != nil || who.Username != "elastic" || who.Type != "token" {
		return fmt.Errorf("_authenticate on %s: %d %s", svc, r.Status, r.Body)
	}
	return nil
}

// requireAuthenticates fails the test unless svc accepts token now.
func (c *cluster) requireAuthenticates(t *testing.T, svc, token string) {
	t.Helper()
	if err := c.authenticates(svc, token); err != nil {
		t.Fatal(err)
	}
}

// otherThan lists the services other than svc.
func otherThan(svc string) []string {
	return slices.DeleteFunc(slices.Clone(services), func(s string) bool { return s == svc })
}
