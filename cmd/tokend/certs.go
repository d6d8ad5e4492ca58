package main

import (
	"cmp"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Validity defaults of `tokend certs`, as elasticsearch-certutil's.
const (
	defaultCADays   = 3 * 365
	defaultNodeDays = 3 * 365
)

// runCerts generates the cluster's certificates: `tokend certs ca` makes
// the cluster CA, `tokend certs node NAME` a node's certificate signed by it.
func runCerts(e env, args []string) error {
	return group{name: "certs", cmds: map[string]command{"ca": runCertsCA, "node": runCertsNode}, about: map[string]string{
		"ca":   "create the cluster CA (DIR/ca.crt, DIR/ca.key)",
		"node": "create a node certificate signed by the cluster CA",
	}}.run(e, args)
}

// runCertsCA writes DIR/ca.crt and DIR/ca.key (mode 0600), refusing to
// replace either.
func runCertsCA(e env, args []string) error {
	fs := flag.NewFlagSet("certs ca", flag.ContinueOnError)
	out := fs.String("out", "certs", "`directory` to write ca.crt and ca.key to (created if missing)")
	days := fs.Int("days", defaultCADays, "validity in `days`")
	name := fs.String("name", "tokend cluster CA", "the CA's common `name`")
	const synopsis = "certs ca [--out DIR] [--days N] [--name NAME]"
	pos, err := parseFlags(e, fs, synopsis, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *days <= 0 {
		return usageError{err: errors.New("certs ca takes no arguments and --days above 0"), usage: flagUsage(fs, synopsis)}
	}
	ca, err := newAuthority(*name, time.Duration(*days)*24*time.Hour)
	if err != nil {
		return err
	}
	certFile, keyFile := filepath.Join(*out, "ca.crt"), filepath.Join(*out, "ca.key")
	if err := writePair(*out, certFile, keyFile, certPEM(ca.cert), ca.key); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s and %s (keep the key offline: whoever holds it can add nodes)\n", certFile, keyFile)
	return nil
}

// runCertsNode writes DIR/NAME.crt and DIR/NAME.key for one node, signed by
// the CA in DIR (or --ca-cert/--ca-key). The certificate names the node and
// the --dns names and --ip addresses it is reached at (default: NAME,
// localhost, 127.0.0.1 and ::1).
func runCertsNode(e env, args []string) error {
	fs := flag.NewFlagSet("certs node", flag.ContinueOnError)
	out := fs.String("out", "certs", "`directory` of the CA and of the new certificate")
	caCert := fs.String("ca-cert", "", "CA certificate `file` (default DIR/ca.crt)")
	caKey := fs.String("ca-key", "", "CA private key `file` (default DIR/ca.key)")
	var dns, ips listValue
	fs.Var(&dns, "dns", "comma-separated host `names` the node is reached at (repeatable)")
	fs.Var(&ips, "ip", "comma-separated IP `addresses` the node is reached at (repeatable)")
	days := fs.Int("days", defaultNodeDays, "validity in `days` (at most the CA's)")
	const synopsis = "certs node NAME [--out DIR] [--dns a,b] [--ip 10.0.0.1] [--ca-cert F --ca-key F] [--days N]"
	pos, err := parseFlags(e, fs, synopsis, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *days <= 0 {
		return usageError{err: errors.New("certs node takes one NAME and --days above 0"), usage: flagUsage(fs, synopsis)}
	}
	id, err := identity(pos[0], dns, ips)
	if err != nil {
		return usageErr(err)
	}
	ca, err := loadAuthority(cmp.Or(*caCert, filepath.Join(*out, "ca.crt")), cmp.Or(*caKey, filepath.Join(*out, "ca.key")))
	if err != nil {
		return fmt.Errorf("the cluster CA (create it with tokend certs ca): %w", err)
	}
	cert, key, err := ca.issue(id, time.Duration(*days)*24*time.Hour)
	if err != nil {
		return err
	}
	certFile, keyFile := filepath.Join(*out, id.name+".crt"), filepath.Join(*out, id.name+".key")
	if err := writePair(*out, certFile, keyFile, certPEM(cert), key); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s and %s for %s\n", certFile, keyFile, strings.Join(sanList(id), ", "))
	return nil
}

// identity builds a node identity from its name, host names and IP
// addresses. The name must be usable as a file name; it is also a DNS name
// of the certificate when it is a valid host name.
func identity(name string, dnsList, ipList []string) (nodeIdentity, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return nodeIdentity{}, fmt.Errorf("node name %q: want a plain name such as node1", name)
	}
	id := nodeIdentity{name: name}
	if len(dnsList) == 0 && len(ipList) == 0 {
		dnsList, ipList = []string{"localhost"}, []string{"127.0.0.1", "::1"}
	}
	id.dns = slices.Clone(dnsList)
	if validHostname(name) && !slices.Contains(id.dns, name) {
		id.dns = append([]string{name}, id.dns...)
	}
	for _, s := range ipList {
		ip := net.ParseIP(s)
		if ip == nil {
			return nodeIdentity{}, fmt.Errorf("--ip %q is not an IP address", s)
		}
		id.ips = append(id.ips, ip)
	}
	return id, nil
}

// sanList lists an identity's names and addresses for display.
func sanList(id nodeIdentity) []string {
	out := append([]string(nil), id.dns...)
	for _, ip := range id.ips {
		out = append(out, ip.String())
	}
	return out
}

// validHostname reports whether s is a syntactically valid DNS host name.
func validHostname(s string) bool {
	if len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// writePair creates dir if needed and writes a certificate (0644) and its
// key (0600), neither of which may exist yet.
func writePair(dir, certFile, keyFile string, cert []byte, key crypto.Signer) error {
	keyData, err := keyPEM(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []string{certFile, keyFile} {
		if _, err := os.Stat(f); err == nil {
			return fmt.Errorf("%s exists; refusing to overwrite it", f)
		}
	}
	if err := writeNew(keyFile, keyData, 0o600); err != nil {
		return err
	}
	return writeNew(certFile, cert, 0o644)
}
