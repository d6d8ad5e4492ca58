package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// serveHolder serves https with h's certificate on a loopback port and
// returns the address.
func serveHolder(t *testing.T, h *certHolder) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: h.GetCertificate},
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// servedSerial returns the serial number of the certificate served at addr.
func servedSerial(addr string, roots *x509.CertPool) (int64, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots})
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

// wantSerial polls addr until it serves the certificate with serial.
func wantSerial(t *testing.T, addr string, roots *x509.CertPool, serial int64) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, fmt.Sprintf("certificate %d served", serial), func() error {
		got, err := servedSerial(addr, roots)
		if err != nil {
			return err
		}
		if got != serial {
			return fmt.Errorf("serving certificate %d", got)
		}
		return nil
	})
}

func TestCertHolder_ReloadsWhenFilesChange(t *testing.T) {
	dir := t.TempDir()
	ca := testkit.NewCA(t, dir)
	certFile, keyFile := filepath.Join(dir, "node.pem"), filepath.Join(dir, "node-key.pem")
	ca.Issue(t, 2, certFile, keyFile)
	h, err := newCertHolder(certFile, keyFile, "tls", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	stop := h.watch(20 * time.Millisecond)
	defer stop()
	addr := serveHolder(t, h)
	wantSerial(t, addr, ca.Pool, 2)

	ca.Issue(t, 3, certFile, keyFile)
	later := time.Now().Add(time.Minute) // a change even on coarse file systems
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	wantSerial(t, addr, ca.Pool, 3)
}

func TestCertHolder_SIGHUPReloadsAndABadPairKeepsTheOldOne(t *testing.T) {
	dir := t.TempDir()
	ca := testkit.NewCA(t, dir)
	certFile, keyFile := filepath.Join(dir, "node.pem"), filepath.Join(dir, "node-key.pem")
	ca.Issue(t, 2, certFile, keyFile)
	logs := &testkit.Buffer{}
	h, err := newCertHolder(certFile, keyFile, "tls", slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	stop := h.watch(time.Hour) // only SIGHUP reloads here
	defer stop()
	addr := serveHolder(t, h)
	wantSerial(t, addr, ca.Pool, 2)

	ca.Issue(t, 3, certFile, keyFile)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	wantSerial(t, addr, ca.Pool, 3)

	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "failed reload logged", func() error {
		if !strings.Contains(logs.String(), "certificate reload failed") {
			return errors.New("not logged yet")
		}
		return nil
	})
	wantSerial(t, addr, ca.Pool, 3)
}

func TestLoad_TLSSettingsFromFlagsEnvAndElasticsearchKeys(t *testing.T) {
	cfg := mustLoad(t, []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, envMap("TOKEND_TLS_CLIENT_CA", "ca.pem"))
	if cfg.TLSCert != "c.pem" || cfg.TLSKey != "k.pem" || cfg.TLSClientCA != "ca.pem" {
		t.Errorf("flags and env: got cert %q key %q client CA %q", cfg.TLSCert, cfg.TLSKey, cfg.TLSClientCA)
	}
	file := writeYAML(t, "xpack.security.http.ssl:\n  certificate: /etc/c.pem\n  key: /etc/k.pem\n  certificate_authorities: /etc/ca.pem\n")
	cfg = mustLoad(t, []string{"--config", file}, envMap())
	if cfg.TLSCert != "/etc/c.pem" || cfg.TLSKey != "/etc/k.pem" || cfg.TLSClientCA != "/etc/ca.pem" {
		t.Errorf("YAML: got cert %q key %q client CA %q", cfg.TLSCert, cfg.TLSKey, cfg.TLSClientCA)
	}
	cfg = mustLoad(t, []string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--join", "127.0.0.1:9201"}, envMap())
	if len(cfg.Join) != 1 || cfg.Join[0] != "https://127.0.0.1:9201" {
		t.Errorf("with TLS a bare --join address should get https, got %q", cfg.Join)
	}
}

func TestLoad_TLSRefusals(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"cert without key", []string{"--tls-cert", "c.pem"}, "--tls-key"},
		{"key without cert", []string{"--tls-key", "k.pem"}, "--tls-cert"},
		{"client CA without pair", []string{"--tls-client-ca", "ca.pem"}, "--tls-client-ca"},
		{"http join with TLS", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--join", "http://127.0.0.1:9201"}, "https"},
		{"all interfaces in clear", []string{"--http-addr", "0.0.0.0:9200", "--advertise-http", "10.0.0.1:9200"}, "--insecure"},
		{"LAN address in clear", []string{"--http-addr", "192.168.1.5:9200"}, "--tls-cert"},
		{"host name in clear", []string{"--http-addr", "tokend-0:9200"}, "clear text"},
		{"raft beyond loopback without mutual TLS", []string{"--raft-addr", "0.0.0.0:9300", "--advertise-raft", "10.0.0.1:9300",
			"--tls-cert", "c.pem", "--tls-key", "k.pem"}, "--cluster-ca"},
		{"cluster CA without https", []string{"--cluster-ca", "ca.pem"}, "needs --tls-cert"},
		{"node cert without cluster CA", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--node-cert", "n.pem", "--node-key", "nk.pem"}, "needs --cluster-ca"},
		{"node cert without key", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--cluster-ca", "ca.pem", "--node-cert", "n.pem"}, "set both"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.args, envMap())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestLoad_ClusterTLSFromElasticsearchKeysDefaultsTheNodeCertificate(t *testing.T) {
	file := writeYAML(t, "xpack.security.transport.ssl:\n  certificate_authorities: /etc/ca.pem\n")
	cfg := mustLoad(t, []string{"--config", file, "--tls-cert", "c.pem", "--tls-key", "k.pem"}, envMap())
	if cfg.ClusterCA != "/etc/ca.pem" || cfg.NodeCert != "c.pem" || cfg.NodeKey != "k.pem" {
		t.Errorf("cluster CA %q, node cert %q key %q: want /etc/ca.pem with the HTTP pair", cfg.ClusterCA, cfg.NodeCert, cfg.NodeKey)
	}
	cfg = mustLoad(t, []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"},
		envMap("TOKEND_CLUSTER_CA", "ca.pem", "TOKEND_NODE_CERT", "n.pem", "TOKEND_NODE_KEY", "nk.pem"))
	if cfg.NodeCert != "n.pem" || cfg.NodeKey != "nk.pem" {
		t.Errorf("env: node cert %q key %q", cfg.NodeCert, cfg.NodeKey)
	}
}

func TestLoad_BootstrapCheckAcceptsLoopbackTLSOrInsecure(t *testing.T) {
	for _, args := range [][]string{
		{"--http-addr", "127.0.0.1:9200"},
		{"--http-addr", "localhost:9200"},
		{"--http-addr", "[::1]:9200"},
		{"--http-addr", "0.0.0.0:9200", "--advertise-http", "10.0.0.1:9200", "--insecure"},
		{"--http-addr", "0.0.0.0:9200", "--advertise-http", "10.0.0.1:9200", "--tls-cert", "c.pem", "--tls-key", "k.pem"},
		{"--raft-addr", "0.0.0.0:9300", "--advertise-raft", "10.0.0.1:9300", "--insecure"},
		{"--raft-addr", "0.0.0.0:9300", "--advertise-raft", "10.0.0.1:9300", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--cluster-ca", "ca.pem"},
	} {
		if _, err := Load(args, envMap()); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
	if _, err := Load([]string{"--http-addr", "0.0.0.0:9200", "--advertise-http", "10.0.0.1:9200"}, envMap("TOKEND_INSECURE", "true")); err != nil {
		t.Errorf("TOKEND_INSECURE=true: %v", err)
	}
}
