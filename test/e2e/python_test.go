package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// pythonWithClient returns a python3 that imports the official
// Elasticsearch client, or skips the test. Debian's python3-elasticsearch
// installs the module for the system python (/usr/bin/python3), which may
// not be the python3 first on PATH.
func pythonWithClient(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(name)
		if err != nil {
			tried = append(tried, name+": not found")
			continue
		}
		out, err := exec.Command(path, "-c", "import elasticsearch").CombinedOutput()
		if err == nil {
			return path
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		tried = append(tried, path+": "+lines[len(lines)-1])
	}
	t.Skipf("no python3 with the elasticsearch module (apt-get install python3-elasticsearch): %s",
		strings.Join(tried, "; "))
	return ""
}

// pythonReport is what testdata/sniff_client.py prints.
type pythonReport struct {
	ClientVersion           string   `json:"client_version"`
	Hosts                   []string `json:"hosts"`
	ServedBy                []string `json:"served_by"`
	Username                string   `json:"username"`
	TokenType               string   `json:"token_type"`
	TokenUsername           string   `json:"token_username"`
	TokenAuthenticationType string   `json:"token_authentication_type"`
}

// TestPython_SniffOnStartFindsEveryNode runs the official Python client
// with sniff_on_start against one node of three: it must pass the client's
// product check, learn every node from /_nodes/_all/http, spread its
// requests over them, and get and use a token. It runs twice: with plain
// JSON headers (the 7.x client's default) and with
// ELASTIC_CLIENT_APIVERSIONING, which makes it send compatible-with=7.
func TestPython_SniffOnStartFindsEveryNode(t *testing.T) {
	python := pythonWithClient(t)
	nodes := startCluster(t, 3)
	var hosts, ids []string
	for _, p := range nodes {
		hosts, ids = append(hosts, p.URL()), append(ids, p.id)
	}
	slices.Sort(hosts)
	for _, versioning := range []string{"false", "true"} {
		got := runSniffClient(t, python, nodes[2].URL(), "ELASTIC_CLIENT_APIVERSIONING="+versioning)
		t.Logf("python elasticsearch client %s, api versioning %s", got.ClientVersion, versioning)
		if !slices.Equal(got.Hosts, hosts) || !slices.Equal(got.ServedBy, ids) {
			t.Fatalf("client knows %v and was served by %v, want %v and %v", got.Hosts, got.ServedBy, hosts, ids)
		}
		if got.Username != "elastic" || got.TokenType != "Bearer" || got.TokenUsername != "elastic" ||
			got.TokenAuthenticationType != "token" {
			t.Fatalf("python client saw %+v", got)
		}
	}
}

// runSniffClient runs testdata/sniff_client.py against url as elastic.
func runSniffClient(t *testing.T, python, url string, env ...string) pythonReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, "testdata/sniff_client.py", url, "elastic", superPassword)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sniff_client.py: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	var got pythonReport
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("sniff_client.py printed %q: %v", stdout.String(), err)
	}
	return got
}
