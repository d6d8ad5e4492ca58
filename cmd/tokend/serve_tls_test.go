package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

const tlsTestPassword = "tls-test-password"

// tlsNode is an in-process node serving https.
type tlsNode struct {
	id, httpAddr string
}

// url is the node's https base URL.
func (n tlsNode) url() string { return "https://" + n.httpAddr }

// startTLSNode runs a node with a certificate from ca (and, if clientCA,
// requiring client certificates from ca) until the test ends.
func startTLSNode(t *testing.T, ca *testkit.CA, id string, serial int64, clientCA bool, extra ...string) tlsNode {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "node.pem"), filepath.Join(dir, "node-key.pem")
	ca.Issue(t, serial, certFile, keyFile)
	if clientCA {
		extra = append([]string{"--tls-client-ca", ca.PEMFile}, extra...)
	}
	return startNodeWithCert(t, id, certFile, keyFile, extra...)
}

// startNodeWithCert runs a node serving https with the given pair until the
// test ends.
func startNodeWithCert(t *testing.T, id, certFile, keyFile string, extra ...string) tlsNode {
	t.Helper()
	n := tlsNode{id: id, httpAddr: testkit.FreeAddr(t)}
	args := []string{"--node-id", id, "--http-addr", n.httpAddr, "--raft-addr", testkit.FreeAddr(t),
		"--data-dir", filepath.Join(t.TempDir(), "data"), "--tls-cert", certFile, "--tls-key", keyFile,
		"--node-secret", "tls-test-node-secret"}
	cfg, err := Load(append(args, extra...), envMap())
	if err != nil {
		t.Fatal(err)
	}
	d, err := startDaemon(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	e := env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: envMap("ELASTIC_PASSWORD", tlsTestPassword)}
	go func() { done <- d.run(ctx, cancel, e) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node %s stopped with %v", id, err)
		}
	})
	return n
}

// httpsClient trusts ca and presents certs, if any.
func httpsClient(ca *testkit.CA, certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool, Certificates: certs},
	}}
}

// call sends a request with the elastic user's credentials.
func call(c *http.Client, method, url, body string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.SetBasicAuth("elastic", tlsTestPassword)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// waitReady polls the node's readiness probe until it answers 200.
func waitReady(t *testing.T, c *http.Client, n tlsNode) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, n.id+" ready over https", func() error {
		resp, body, err := call(c, http.MethodGet, n.url()+"/_tokend/readyz", "")
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d: %s", resp.StatusCode, body)
		}
		return nil
	})
}

// grantToken asks node url for a token pair with the password grant. The
// node grants it itself; a follower has the leader commit it.
func grantToken(t *testing.T, c *http.Client, url string) (access, refresh string) {
	t.Helper()
	grant := fmt.Sprintf(`{"grant_type":"password","username":"elastic","password":%q}`, tlsTestPassword)
	access, refresh, _ = tokenCall(t, c, url, grant)
	return access, refresh
}

// refreshOn spends refresh on node url and returns the node that served the
// refresh: a follower forwards it to the leader, which names itself.
func refreshOn(t *testing.T, c *http.Client, url, refresh string) (servedBy string) {
	t.Helper()
	_, _, servedBy = tokenCall(t, c, url, fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh))
	return servedBy
}

// tokenCall posts body to url's token endpoint until it answers 200.
func tokenCall(t *testing.T, c *http.Client, url, body string) (access, refresh, servedBy string) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, "token granted by "+url, func() error {
		resp, answer, err := call(c, http.MethodPost, url+"/_security/oauth2/token", body)
		if err != nil {
			return err
		}
		var out struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(answer, &out) != nil || out.AccessToken == "" {
			return fmt.Errorf("%d %s", resp.StatusCode, answer)
		}
		access, refresh, servedBy = out.AccessToken, out.RefreshToken, resp.Header.Get("X-Tokend-Served-By")
		return nil
	})
	return access, refresh, servedBy
}

func TestServe_TLSNodeAnswersHTTPSOnlyFromTLS12(t *testing.T) {
	ca := testkit.NewCA(t, t.TempDir())
	n := startTLSNode(t, ca, "n1", 10, false, "--bootstrap")
	c := httpsClient(ca)
	waitReady(t, c, n)
	grantToken(t, c, n.url())

	resp, body, err := call(&http.Client{Timeout: 5 * time.Second}, http.MethodGet, "http://"+n.httpAddr+"/", "")
	if err == nil && resp.StatusCode == http.StatusOK {
		t.Fatalf("plain http answered 200: %s", body)
	}

	old := &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	if conn, err := tls.Dial("tcp", n.httpAddr, old); err == nil {
		conn.Close()
		t.Fatal("a TLS 1.1 client completed the handshake")
	}
}

func TestServe_TLSClusterWithClientCertsForwardsWritesOverHTTPS(t *testing.T) {
	dir := t.TempDir()
	ca := testkit.NewCA(t, dir)
	nodes := []tlsNode{startTLSNode(t, ca, "n1", 11, true, "--bootstrap")}
	c := httpsClient(ca, ca.ClientPair(t, dir))
	waitReady(t, c, nodes[0])
	for i, id := range []string{"n2", "n3"} {
		nodes = append(nodes, startTLSNode(t, ca, id, int64(12+i), true, "--join", nodes[0].url()))
	}
	for _, n := range nodes[1:] {
		waitReady(t, c, n)
	}

	if _, _, err := call(httpsClient(ca), http.MethodGet, nodes[0].url()+"/", ""); err == nil {
		t.Fatal("a client without a certificate was served")
	}

	forwarded := false
	for i, n := range nodes {
		token, refresh := grantToken(t, c, n.url())
		servedBy := refreshOn(t, c, n.url(), refresh)
		forwarded = forwarded || (servedBy != "" && servedBy != n.id)
		other := nodes[(i+1)%len(nodes)]
		req, _ := http.NewRequest(http.MethodGet, other.url()+"/_security/_authenticate", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("token from %s on %s: status %d", n.id, other.id, resp.StatusCode)
		}
	}
	if !forwarded {
		t.Error("no follower forwarded its refresh to the leader")
	}
}

func TestOperator_HTTPSAddrWithCACertAndClientCert(t *testing.T) {
	dir := t.TempDir()
	ca := testkit.NewCA(t, dir)
	n := startTLSNode(t, ca, "n1", 20, true, "--bootstrap")
	certFile, keyFile := filepath.Join(dir, "op.pem"), filepath.Join(dir, "op-key.pem")
	ca.Issue(t, 21, certFile, keyFile)
	waitReady(t, httpsClient(ca, ca.ClientPair(t, dir)), n)
	runOp := func(args ...string) (int, string) {
		var out, errOut strings.Builder
		e := env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
			getenv: envMap("TOKEND_ADDR", n.url(), "ELASTIC_PASSWORD", tlsTestPassword)}
		code := run(e, args)
		return code, out.String() + errOut.String()
	}
	if code, out := runOp("nodes", "--ca-cert", ca.PEMFile); code == 0 {
		t.Errorf("without a client certificate the command succeeded: %s", out)
	}
	testkit.Eventually(t, 10*time.Second, "tokend users list over https", func() error {
		code, out := runOp("users", "list", "--ca-cert", ca.PEMFile, "--client-cert", certFile, "--client-key", keyFile)
		if code != 0 || !strings.Contains(out, "elastic") {
			return fmt.Errorf("exit %d: %s", code, out)
		}
		return nil
	})
	backup := filepath.Join(dir, "backup.snap")
	if code, out := runOp("snapshot", "save", "--quiet", "--ca-cert", ca.PEMFile, "--client-cert", certFile,
		"--client-key", keyFile, backup); code != 0 {
		t.Fatalf("tokend snapshot save over https: exit %d: %s", code, out)
	}
	if _, err := verifyFile(backup); err != nil {
		t.Fatalf("the saved snapshot does not verify: %v", err)
	}
}
