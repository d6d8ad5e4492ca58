package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCertsCLI runs tokend with args and returns the exit code and output.
func runCertsCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: envMap()}, args)
	return code, out.String(), errOut.String()
}

// The certificates `tokend certs` writes form a working cluster: https for
// clients, mutual TLS for Raft and the writes a follower forwards.
func TestCerts_GeneratedCertificatesRunAMutualTLSCluster(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCertsCLI("certs", "ca", "--out", dir); code != 0 {
		t.Fatalf("certs ca: exit %d: %s", code, errOut)
	}
	for _, n := range []string{"c1", "c2"} {
		if code, out, errOut := runCertsCLI("certs", "node", n, "--out", dir); code != 0 || !strings.Contains(out, "127.0.0.1") {
			t.Fatalf("certs node %s: exit %d: %s %s", n, code, out, errOut)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "c1.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("node key mode: %v %v", fi.Mode(), err)
	}
	caFile := filepath.Join(dir, "ca.crt")
	mtls := []string{"--cluster-ca", caFile}
	n1 := startNodeWithCert(t, "c1", filepath.Join(dir, "c1.crt"), filepath.Join(dir, "c1.key"), append(mtls, "--bootstrap")...)
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(caFile)
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("ca.crt: %v", err)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	waitReady(t, c, n1)
	n2 := startNodeWithCert(t, "c2", filepath.Join(dir, "c2.crt"), filepath.Join(dir, "c2.key"), append(mtls, "--join", n1.url())...)
	waitReady(t, c, n2)
	token, refresh := grantToken(t, c, n2.url())
	if servedBy := refreshOn(t, c, n2.url(), refresh); servedBy != "c1" {
		t.Errorf("the follower's refresh was served by %q, want the leader c1", servedBy)
	}
	req, _ := http.NewRequest(http.MethodGet, n1.url()+"/_security/_authenticate", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK {
		t.Errorf("token issued through c2, authenticated on c1: %d %s", resp.StatusCode, body)
	}
}

func TestCerts_RefusesOverwritesBadAddressesAndAMissingCA(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCertsCLI("certs", "node", "n1", "--out", dir); code != 1 || !strings.Contains(errOut, "tokend certs ca") {
		t.Errorf("a node certificate without a CA: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCertsCLI("certs", "ca", "--out", dir); code != 0 {
		t.Fatalf("certs ca: exit %d: %s", code, errOut)
	}
	before, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCertsCLI("certs", "ca", "--out", dir); code != 1 || !strings.Contains(errOut, "refusing to overwrite") {
		t.Errorf("a second CA over the first: exit %d: %s", code, errOut)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "ca.key")); !bytes.Equal(before, after) {
		t.Error("the CA key was replaced")
	}
	for _, args := range [][]string{
		{"certs", "node", "n1", "--out", dir, "--ip", "not-an-ip"},
		{"certs", "node", "../escape", "--out", dir},
		{"certs", "node", "--out", dir},
		{"certs", "sign"},
	} {
		if code, _, errOut := runCertsCLI(args...); code != 2 {
			t.Errorf("%q: exit %d, want 2 (usage): %s", args, code, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "n1.crt")); !os.IsNotExist(err) {
		t.Errorf("a refused request wrote n1.crt: %v", err)
	}
	if code, out, errOut := runCertsCLI("certs", "node", "tokend2", "--out", dir, "--dns", "tokend2", "--ip", "10.0.0.2"); code != 0 {
		t.Fatalf("certs node: exit %d: %s", code, errOut)
	} else if !strings.Contains(out, "tokend2, 10.0.0.2") {
		t.Errorf("names listed: %s", out)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "tokend2.crt"), filepath.Join(dir, "tokend2.key"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname("tokend2"); err != nil {
		t.Error(err)
	}
	if err := leaf.VerifyHostname("10.0.0.2"); err != nil {
		t.Error(err)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err == nil {
		t.Error("a certificate with explicit --ip also names 127.0.0.1")
	}
}
