package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
)

// tlsFlags are the operator commands' TLS settings for an https --addr.
type tlsFlags struct {
	caCert, cert, key string
}

// register binds the flags on fs, with defaults from the environment.
func (t *tlsFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&t.caCert, "ca-cert", getenv("TOKEND_CA_CERT"), "PEM CA `file` trusted for an https --addr (env TOKEND_CA_CERT; default the system roots)")
	fs.StringVar(&t.cert, "client-cert", getenv("TOKEND_CLIENT_CERT"), "PEM client certificate `file`, for nodes that require one (env TOKEND_CLIENT_CERT)")
	fs.StringVar(&t.key, "client-key", getenv("TOKEND_CLIENT_KEY"), "PEM private key `file` of --client-cert (env TOKEND_CLIENT_KEY)")
}

// transport returns the HTTP transport the flags describe: nil (the
// default transport) when none is set.
func (t *tlsFlags) transport() (http.RoundTripper, error) {
	if t.caCert == "" && t.cert == "" && t.key == "" {
		return nil, nil
	}
	if (t.cert == "") != (t.key == "") {
		return nil, errors.New("--client-cert and --client-key: set both or neither")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.caCert != "" {
		pool, err := readCAPool("ca-cert", t.caCert)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if t.cert != "" {
		pair, err := tls.LoadX509KeyPair(t.cert, t.key)
		if err != nil {
			return nil, fmt.Errorf("--client-cert %s and --client-key %s: %w", t.cert, t.key, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return tr, nil
}
