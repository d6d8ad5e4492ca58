package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// certPollInterval is how often the certificate files' modification times
// are checked for a change.
const certPollInterval = 3 * time.Second

// nodeTLS is the TLS material of a node that serves https: the reloadable
// certificates, the server configuration of the HTTP listener, the client
// configuration the node uses to call other nodes and, with a cluster CA,
// the mutual TLS configuration of Raft.
type nodeTLS struct {
	certs *certHolder // the HTTP API's certificate
	node  *certHolder // the certificate presented to other nodes: certs, or --node-cert
	// clusterCA are the cluster CA's certificates; nil without --cluster-ca.
	clusterCA []*x509.Certificate
	server    *tls.Config
	peer      *tls.Config
	raft      *tls.Config // nil without --cluster-ca
}

// loadTLS reads the certificates, keys and CAs named by cfg. It returns nil
// when TLS is not configured.
func loadTLS(cfg Config, log *slog.Logger) (*nodeTLS, error) {
	if !cfg.TLSEnabled() {
		return nil, nil
	}
	log = log.With("component", "tls")
	certs, err := newCertHolder(cfg.TLSCert, cfg.TLSKey, "tls", log)
	if err != nil {
		return nil, err
	}
	n := &nodeTLS{
		certs:  certs,
		node:   certs,
		server: &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate},
		peer:   &tls.Config{MinVersion: tls.VersionTLS12, GetClientCertificate: certs.GetClientCertificate},
	}
	clientCAs, peerRoots := x509.NewCertPool(), x509.NewCertPool()
	if cfg.TLSClientCA != "" {
		cas, err := readCACerts("tls-client-ca", cfg.TLSClientCA)
		if err != nil {
			return nil, err
		}
		addAll(clientCAs, cas)
		addAll(peerRoots, cas)
		n.server.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if cfg.ClusterTLSEnabled() {
		if err := n.loadCluster(cfg, log, clientCAs, peerRoots); err != nil {
			return nil, err
		}
	}
	if n.server.ClientAuth != tls.NoClientCert {
		n.server.ClientCAs = clientCAs
		n.peer.RootCAs = peerRoots
	}
	return n, nil
}

// loadCluster adds the cluster CA and the node certificate: the HTTP
// listener verifies node certificates when given (or always, with a client
// CA), other nodes' HTTP certificates are trusted when the cluster CA
// signed them, and Raft gets its mutual TLS configuration.
func (n *nodeTLS) loadCluster(cfg Config, log *slog.Logger, clientCAs, peerRoots *x509.CertPool) error {
	ca, err := readCACerts("cluster-ca", cfg.ClusterCA)
	if err != nil {
		return err
	}
	n.clusterCA = ca
	if cfg.NodeCert != cfg.TLSCert || cfg.NodeKey != cfg.TLSKey {
		if n.node, err = newCertHolder(cfg.NodeCert, cfg.NodeKey, "node", log); err != nil {
			return err
		}
		n.peer.GetClientCertificate = n.node.GetClientCertificate
	}
	addAll(clientCAs, ca)
	addAll(peerRoots, ca)
	if n.server.ClientAuth == tls.NoClientCert {
		n.server.ClientAuth = tls.VerifyClientCertIfGiven
	}
	pool := x509.NewCertPool()
	addAll(pool, ca)
	n.raft = &tls.Config{
		MinVersion:           tls.VersionTLS12,
		GetCertificate:       n.node.GetCertificate,
		GetClientCertificate: n.node.GetClientCertificate,
		ClientAuth:           tls.RequireAndVerifyClientCert,
		ClientCAs:            pool,
		RootCAs:              pool,
	}
	return nil
}

// watch reloads every certificate on SIGHUP or file change (see
// certHolder.watch); the returned stop ends all of it.
func (n *nodeTLS) watch(interval time.Duration) (stop func()) {
	stops := []func(){n.certs.watch(interval)}
	if n.node != n.certs {
		stops = append(stops, n.node.watch(interval))
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}

// addAll adds certs to pool.
func addAll(pool *x509.CertPool, certs []*x509.Certificate) {
	for _, c := range certs {
		pool.AddCert(c)
	}
}

// readCACerts reads a PEM bundle of CA certificates; flag names the setting
// in errors.
func readCACerts(flag, path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	var certs []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("--%s %s: %w", flag, path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("--%s %s: no PEM certificate in the file", flag, path)
	}
	return certs, nil
}

// readCAPool is readCACerts as a pool.
func readCAPool(flag, path string) (*x509.CertPool, error) {
	certs, err := readCACerts(flag, path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	addAll(pool, certs)
	return pool, nil
}

// certHolder holds the node's certificate and key pair and replaces it when
// the files change. A pair that fails to load is logged and the previous
// one kept. It is safe for concurrent use.
type certHolder struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime [2]time.Time // of certFile and keyFile when cert was loaded
}

// newCertHolder loads the pair from certFile and keyFile, given by the
// flags --PREFIX-cert and --PREFIX-key.
func newCertHolder(certFile, keyFile, prefix string, log *slog.Logger) (*certHolder, error) {
	h := &certHolder{certFile: certFile, keyFile: keyFile, log: log}
	if err := h.load(); err != nil {
		return nil, fmt.Errorf("--%s-cert %s and --%s-key %s: %w", prefix, certFile, prefix, keyFile, err)
	}
	return h, nil
}

// GetCertificate serves the current certificate (tls.Config.GetCertificate).
func (h *certHolder) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cert, nil
}

// GetClientCertificate presents the current certificate to other nodes
// (tls.Config.GetClientCertificate).
func (h *certHolder) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return h.GetCertificate(nil)
}

// load reads the pair and, if it is valid, makes it current.
func (h *certHolder) load() error {
	mod, err := h.modTimes()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(h.certFile, h.keyFile)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.cert, h.modTime = &cert, mod
	h.mu.Unlock()
	return nil
}

// modTimes returns the files' modification times.
func (h *certHolder) modTimes() ([2]time.Time, error) {
	var mod [2]time.Time
	for i, path := range []string{h.certFile, h.keyFile} {
		fi, err := os.Stat(path)
		if err != nil {
			return mod, err
		}
		mod[i] = fi.ModTime()
	}
	return mod, nil
}

// changed reports whether either file's modification time differs from the
// loaded pair's.
func (h *certHolder) changed() bool {
	mod, err := h.modTimes()
	if err != nil {
		return false // a file being replaced; the next poll sees it
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return mod != h.modTime
}

// reload loads the pair again, logging the outcome; on failure the current
// pair stays in use.
func (h *certHolder) reload(reason string) {
	if err := h.load(); err != nil {
		h.log.Error("certificate reload failed; keeping the current certificate", "reason", reason, "err", err)
		return
	}
	h.log.Info("certificate reloaded", "reason", reason, "cert", h.certFile)
}

// watch reloads the pair on SIGHUP and when the files' modification times
// change, checked every interval. SIGHUP is caught from the moment watch
// returns; the returned stop ends the watching and waits for it.
func (h *certHolder) watch(interval time.Duration) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-hup:
				h.reload("SIGHUP")
			case <-tick.C:
				if h.changed() {
					h.reload("file changed")
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(hup)
			close(done)
			<-exited
		})
	}
}
