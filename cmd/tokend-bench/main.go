// Command tokend-bench is a bounded load generator for a local tokend
// cluster: it drives a weighted mix of token API operations over keep-alive
// connections and reports throughput and p50/p90/p99/max latency per
// operation, as text or JSON. scripts/bench.sh uses it for the write
// workloads of issue 6's targets.
//
// Usage:
//
//	tokend-bench [-targets URL,URL] [-mix authenticate=90,refresh=5,invalidate=5]
//	    [-c 32] [-n 1000000] [-d 10s] [-user elastic] [-password PW] [-json]
//
// Operations (names for -mix):
//
//   - client_credentials: POST /_security/oauth2/token with that grant and
//     Basic auth for -user/-password.
//   - password: POST /_security/oauth2/token with the password grant for
//     -user/-password and no Authorization header.
//   - refresh: the refresh_token grant with a refresh token this worker
//     obtained earlier (each one is spent once; the answer's new one is kept).
//   - authenticate: GET /_security/_authenticate with a Bearer token obtained
//     once at start (client_credentials on the first target).
//   - invalidate: DELETE /_security/oauth2/token of an access token this
//     worker obtained earlier.
//   - introspect: POST /oauth2/introspect (RFC 7662) of the token
//     authenticate uses, with Basic auth for -user/-password, as a gateway
//     asks.
//   - forward_auth: GET /_tokend/auth with that token as Bearer, as nginx
//     auth_request and Caddy forward_auth ask.
//
// A refresh drawn by a worker holding no refresh token is sent as a
// password grant, and an invalidate without an access token as a
// client_credentials grant, so every drawn operation is one request and the
// report counts what was actually sent.
//
// Each worker draws its operations from its own seeded generator and sends
// request i to target i mod len(targets). A run stops after -n requests or
// -d, whichever comes first; requests in flight at the deadline are
// cancelled and not counted. Non-2xx answers and transport errors are
// counted per operation and the first of each is printed. Only loopback
// targets (127.0.0.0/8, ::1, localhost) are accepted.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := execute(ctx, cfg, newClient(cfg.c, len(cfg.targets), cfg.roots))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tokend-bench:", err)
		os.Exit(1)
	}
	if err := report(os.Stdout, cfg, res); err != nil {
		fmt.Fprintln(os.Stderr, "tokend-bench:", err)
		os.Exit(1)
	}
}
