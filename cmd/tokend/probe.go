package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
)

// probeUsage is the synopsis of `tokend probe`.
const probeUsage = "probe [--addr URL] [--ca-cert FILE]"

// runProbe asks a node's readiness route (GET /_tokend/readyz, no
// credentials) and exits 0 when it is ready, 1 with the node's reason when
// not: a container HEALTHCHECK for an image that has no shell or curl. By
// default it asks this container's own node, over https when
// TOKEND_TLS_CERT is set, at the port of TOKEND_HTTP_ADDR, trusting
// TOKEND_CA_CERT or else TOKEND_CLUSTER_CA.
func runProbe(e env, args []string) error {
	fs := flag.NewFlagSet("tokend probe", flag.ContinueOnError)
	addr := fs.String("addr", probeDefaultAddr(e.getenv), "`url` of the node to probe")
	var tf tlsFlags
	tf.register(fs, e.getenv)
	if tf.caCert == "" {
		tf.caCert = e.getenv("TOKEND_CLUSTER_CA")
	}
	pos, err := parseFlags(e, fs, probeUsage, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{err: fmt.Errorf("unexpected argument %q", pos[0]), usage: flagUsage(fs, probeUsage)}
	}
	transport, err := tf.transport()
	if err != nil {
		return usageErr(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *addr+readyPath, nil)
	if err != nil {
		return usageErr(err)
	}
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s", newAPIError(resp.StatusCode, body).Error())
	}
	fmt.Fprintln(e.stdout, "ready")
	return nil
}

// probeDefaultAddr is this node's own API on loopback, from the serve
// settings in the environment.
func probeDefaultAddr(getenv func(string) string) string {
	port := "9200"
	if _, p, err := net.SplitHostPort(getenv("TOKEND_HTTP_ADDR")); err == nil && p != "" {
		port = p
	}
	scheme := "http"
	if getenv("TOKEND_TLS_CERT") != "" {
		scheme = "https"
	}
	return scheme + "://127.0.0.1:" + port
}
