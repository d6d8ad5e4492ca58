package main

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// config is the parsed command line.
type config struct {
	targets  []string
	mix      mix
	c, n     int
	d        time.Duration
	user     string
	password string
	// users > 0 spreads password grants over users <user>0..<user>users-1,
	// so that they miss the server's credential cache and run bcrypt.
	users int
	json  bool
	// roots, when set, are the CAs trusted for https targets (-cacert).
	roots *x509.CertPool
}

const usage = "usage: tokend-bench [-targets URL,URL] [-mix op=weight,...] [-c N] [-n N] [-d DURATION] [-user U] [-password P] [-users N] [-cacert FILE] [-json]"

// parseFlags parses and validates the command line.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("tokend-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	targets := fs.String("targets", "http://127.0.0.1:9200", "comma-separated base URLs (loopback only)")
	mixSpec := fs.String("mix", "authenticate=100", "weighted operations: client_credentials, password, refresh, authenticate, invalidate, introspect, forward_auth")
	fs.IntVar(&cfg.c, "c", 32, "concurrency (workers, each with its own keep-alive connection)")
	fs.IntVar(&cfg.n, "n", 1_000_000, "maximum total requests")
	fs.DurationVar(&cfg.d, "d", 10*time.Second, "maximum duration")
	fs.StringVar(&cfg.user, "user", "elastic", "user name")
	fs.IntVar(&cfg.users, "users", 0, "password grants cycle through `N` users named <user>0, <user>1, ... (all with -password), so each misses the credential cache; 0: -user only")
	fs.StringVar(&cfg.password, "password", defaultPassword(), "password (default $ELASTIC_PASSWORD or changeme)")
	fs.BoolVar(&cfg.json, "json", false, "print the result as JSON")
	cacert := fs.String("cacert", os.Getenv("TOKEND_CA_CERT"), "PEM CA `file` trusted for https targets, e.g. scripts/cluster.sh's certs/ca.crt (default $TOKEND_CA_CERT, else the system roots)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	err := func() error {
		if fs.NArg() > 0 {
			return fmt.Errorf("unexpected arguments: %q", fs.Args())
		}
		var err error
		if cfg.targets, err = parseTargets(*targets); err != nil {
			return err
		}
		if cfg.mix, err = parseMix(*mixSpec); err != nil {
			return err
		}
		if cfg.roots, err = readRoots(*cacert); err != nil {
			return err
		}
		return validate(cfg)
	}()
	if err != nil {
		fmt.Fprintln(stderr, "tokend-bench:", err)
	}
	return cfg, err
}

// readRoots reads the PEM CA certificates in file; nil for "".
func readRoots(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("-cacert: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-cacert %s: no PEM certificate in the file", file)
	}
	return pool, nil
}

// defaultPassword is $ELASTIC_PASSWORD, or changeme.
func defaultPassword() string {
	if pw := os.Getenv("ELASTIC_PASSWORD"); pw != "" {
		return pw
	}
	return "changeme"
}

// validate checks the numeric limits.
func validate(cfg config) error {
	switch {
	case cfg.c < 1:
		return fmt.Errorf("-c %d: want at least 1", cfg.c)
	case cfg.n < 1:
		return fmt.Errorf("-n %d: want at least 1", cfg.n)
	case cfg.d <= 0:
		return fmt.Errorf("-d %v: want a positive duration", cfg.d)
	case cfg.users < 0:
		return fmt.Errorf("-users %d: want 0 or more", cfg.users)
	}
	return nil
}

// parseMix reads "op=weight,op=weight"; a bare "op" weighs 1.
func parseMix(spec string) (mix, error) {
	var m mix
	seen := map[op]bool{}
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, weight, hasWeight := strings.Cut(part, "=")
		o, ok := opNamed(strings.TrimSpace(name))
		if !ok {
			return nil, fmt.Errorf("-mix: unknown operation %q (want %s)", name, strings.Join(opNames(), ", "))
		}
		if seen[o] {
			return nil, fmt.Errorf("-mix: %s given twice", name)
		}
		seen[o] = true
		w := 1
		if hasWeight {
			var err error
			if w, err = strconv.Atoi(strings.TrimSpace(weight)); err != nil || w < 0 {
				return nil, fmt.Errorf("-mix: weight %q of %s: want a non-negative integer", weight, name)
			}
		}
		if w > 0 {
			m = append(m, weighted{op: o, weight: w})
		}
	}
	if len(m) == 0 {
		return nil, errors.New("-mix: no operation with a positive weight")
	}
	return m, nil
}

// parseTargets splits the -targets list, normalizes each base URL and refuses
// any that is not loopback.
func parseTargets(list string) ([]string, error) {
	var out []string
	for t := range strings.SplitSeq(list, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if err := checkLoopback(t); err != nil {
			return nil, err
		}
		out = append(out, strings.TrimRight(t, "/"))
	}
	if len(out) == 0 {
		return nil, errors.New("-targets: no target given")
	}
	return out, nil
}

// checkLoopback accepts an http(s) URL whose host is 127.0.0.0/8, ::1 or
// localhost.
func checkLoopback(target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("target %q: %v", target, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("target %q: want an http:// or https:// base URL", target)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("target %q refused: host %q is not loopback (127.0.0.0/8, ::1, localhost); this tool is for local clusters only", target, host)
}
