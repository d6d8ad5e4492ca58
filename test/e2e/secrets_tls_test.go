package e2e

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// tlsFiles are a throwaway CA and a 127.0.0.1 node certificate it signed.
type tlsFiles struct {
	certFile, keyFile, caFile string
	roots                     *x509.CertPool
	keyPEM, keyDER            []byte
	keyScalar                 []byte // the private key's secret number
	// nodeClient is a certificate of the CA for calls that act as a node
	// (the node secret header is refused without one under mutual TLS).
	nodeClient tls.Certificate
}

// newTLSFiles writes a CA and a node certificate and key for 127.0.0.1
// under dir.
func newTLSFiles(t *testing.T, dir string) *tlsFiles {
	t.Helper()
	ca := testkit.NewCA(t, dir)
	f := &tlsFiles{certFile: filepath.Join(dir, "node.crt"), keyFile: filepath.Join(dir, "node.key"),
		caFile: ca.PEMFile, roots: ca.Pool, nodeClient: ca.ClientPair(t, dir)}
	ca.Issue(t, 2, f.certFile, f.keyFile)
	var err error
	if f.keyPEM, err = os.ReadFile(f.keyFile); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(f.keyPEM)
	if block == nil {
		t.Fatal("node.key: no PEM block")
	}
	f.keyDER = block.Bytes
	key, err := x509.ParsePKCS8PrivateKey(f.keyDER)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("node.key holds a %T", key)
	}
	if f.keyScalar, err = ecKey.Bytes(); err != nil {
		t.Fatal(err)
	}
	return f
}

// keyNeedles are the forms the private key could leak in: the PEM file,
// each base64 line of it, the DER encoding and the raw secret scalar.
func (f *tlsFiles) keyNeedles() map[string][]byte {
	out := map[string][]byte{"the key PEM": f.keyPEM, "the key DER": f.keyDER, "the key scalar": f.keyScalar}
	for i, line := range strings.Split(string(f.keyPEM), "\n") {
		if len(line) >= 32 && !strings.HasPrefix(line, "-----") {
			out[fmt.Sprintf("key PEM line %d", i)] = []byte(line)
		}
	}
	return out
}

// TestNoPlaintextSecretsOrTLSKeyOnAnHTTPSNode runs the leak workload on a
// node serving https with mutual TLS for Raft (--cluster-ca, the node
// certificate being the HTTP one), logging at debug level, and searches its output, its
// data dir, the error answers, the metrics and a snapshot for the secrets
// and for the TLS private key in any form.
func TestNoPlaintextSecretsOrTLSKeyOnAnHTTPSNode(t *testing.T) {
	t.Parallel() // its wait for the refresh window overlaps the other leak test's
	files := newTLSFiles(t, t.TempDir())
	p := newProc(t, "tls1", "--bootstrap", "--tls-cert", files.certFile, "--tls-key", files.keyFile, "--cluster-ca", files.caFile,
		"--raft-snapshot-threshold", "8", "--raft-snapshot-interval", "1s", "--log-level", "debug")
	p.start()
	client := &http.Client{Timeout: 20 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: files.roots, MinVersion: tls.VersionTLS12,
			Certificates: []tls.Certificate{files.nodeClient}}}}
	base := "https://" + p.httpAddr
	testkit.Eventually(t, 30*time.Second, "tls1 ready, with its elastic user", func() error {
		if p.exited() {
			t.Fatalf("tls1 exited: %v\n%s", p.exitErr, p.out.String())
		}
		if !p.out.HasLine("bootstrapped a new cluster") {
			return fmt.Errorf("not bootstrapped yet")
		}
		resp, err := client.Get(base + "/_tokend/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	w := &leakWorkload{t: t, call: func(_ int, method, path, body string, h http.Header) testkit.Response {
		r, err := testkit.TryDoWith(client, base, method, path, body, h)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return r
	}}
	metrics, snap := w.run(1)
	testkit.Eventually(t, 60*time.Second, "tls1 wrote a snapshot", func() error {
		if countSnapshots(p.dataDir) == 0 {
			return fmt.Errorf("no snapshot under %s", p.dataDir)
		}
		return nil
	})
	if err := p.stop(); err != nil {
		t.Fatalf("stop tls1: %v", err)
	}

	if !p.out.HasLine("level=WARN", "refresh token replayed", "user=elastic", "realm=reserved") {
		t.Error("the replay after the retry window was not logged as a WARN naming the user and realm")
	}
	needles := needlesFor(t, w.secrets)
	for name, n := range files.keyNeedles() {
		needles[name] = n
	}
	scanDataDir(t, p.dataDir, needles)
	assertNoNeedle(t, "tls1 output", []byte(p.out.String()), needles)
	assertNoNeedle(t, "an error answer", w.answers.Bytes(), needles)
	assertNoNeedle(t, "the metrics", metrics, needles)
	assertNoNeedle(t, "the downloaded snapshot", snap, needles)
}
