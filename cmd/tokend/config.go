package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tokend/tokend/api/audit"
	"github.com/tokend/tokend/raftnode"
)

// Token lifetime bounds, as Elasticsearch's xpack.security.authc.token.timeout.
const (
	minTokenTimeout = time.Second
	maxTokenTimeout = time.Hour
)

// maxRequestTimeout keeps a write re-sent to a new leader, which happens
// within the request timeout of the first send, well inside the state
// machine's 2 min memory of request IDs (fsm.DedupRetention), with a
// minute to spare for clock skew between the old and the new leader.
const maxRequestTimeout = time.Minute

// Config is everything `tokend serve` needs. Load fills it from flags, the
// environment and an optional YAML file; Validate normalises and checks it.
// Nothing in it is reloaded at runtime: a change takes a restart.
type Config struct {
	ConfigFile string // --config: optional YAML file

	NodeID        string // --node-id (node.name)
	HTTPAddr      string // --http-addr: HTTP API listen address
	RaftAddr      string // --raft-addr: Raft listen address
	AdvertiseHTTP string // --advertise-http: defaults to HTTPAddr
	AdvertiseRaft string // --advertise-raft: defaults to RaftAddr
	DataDir       string // --data-dir (path.data)

	Bootstrap       bool     // --bootstrap
	Join            []string // --join: HTTP base URLs of existing members
	BootstrapExpect int      // --bootstrap-expect
	Replica         bool     // --replica (node.replica): join as a read replica

	ClusterName             string        // --cluster-name (cluster.name)
	NodeSecret              string        // --node-secret: shared secret that authorises joins
	EnrollmentToken         string        // --enrollment-token: join with a one-time token (tokend enroll)
	TokenTimeout            time.Duration // --token-timeout (xpack.security.authc.token.timeout)
	RequestTimeout          time.Duration // --request-timeout: bound on one API request's cluster work
	DisableReplayRevocation bool          // --disable-replay-revocation

	// Raft log compaction: snapshot after this many new entries (checked
	// every interval), keeping TrailingLogs entries for slow followers.
	SnapshotThreshold uint64        // --raft-snapshot-threshold
	SnapshotInterval  time.Duration // --raft-snapshot-interval
	TrailingLogs      uint64        // --raft-trailing-logs

	// TLS on the HTTP API. TLSCert and TLSKey go together; TLSClientCA
	// makes the node require client certificates signed by it, and is the
	// CA the node trusts when it calls other nodes.
	TLSCert     string // --tls-cert (xpack.security.http.ssl.certificate)
	TLSKey      string // --tls-key (xpack.security.http.ssl.key)
	TLSClientCA string // --tls-client-ca (xpack.security.http.ssl.certificate_authorities)
	Insecure    bool   // --insecure: allow plain http or Raft on a non-loopback address

	// Mutual TLS between nodes. With ClusterCA, Raft traffic is TLS and
	// every node-to-node call (join, forwarded writes, status) must present
	// a certificate the cluster CA signed: the node's own is NodeCert and
	// NodeKey, which default to TLSCert and TLSKey.
	ClusterCA string // --cluster-ca (xpack.security.transport.ssl.certificate_authorities)
	NodeCert  string // --node-cert (xpack.security.transport.ssl.certificate)
	NodeKey   string // --node-key (xpack.security.transport.ssl.key)

	LogLevel  slog.Level // --log-level
	LogFormat string     // --log-format: text or json

	// Audit trail (package audit).
	Audit         bool     // --audit (xpack.security.audit.enabled)
	AuditFile     string   // --audit-file: default <data-dir>/../logs/<cluster>_audit.json
	AuditInclude  []string // --audit-include (xpack.security.audit.logfile.events.include)
	AuditExclude  []string // --audit-exclude (xpack.security.audit.logfile.events.exclude)
	AuditMaxSize  int64    // --audit-max-size: bytes per file before rotation
	AuditMaxFiles int      // --audit-max-files: files kept

	PprofAddr string // --pprof-addr: loopback address for Go's runtime profiles; "" serves none
}

// Default returns the configuration `tokend serve` runs with when nothing is
// given (SPEC §1). The node ID is the host name; if that cannot be read it is
// left empty and Validate uses the advertised Raft address.
func Default() Config {
	host, _ := os.Hostname()
	return Config{
		NodeID:         host,
		HTTPAddr:       "127.0.0.1:9200",
		RaftAddr:       "127.0.0.1:9300",
		DataDir:        "./data",
		ClusterName:    "tokend",
		TokenTimeout:   20 * time.Minute,
		RequestTimeout: 10 * time.Second,

		SnapshotThreshold: raftnode.DefaultSnapshotThreshold,
		SnapshotInterval:  raftnode.DefaultSnapshotInterval,
		TrailingLogs:      raftnode.DefaultTrailingLogs,

		LogLevel:  slog.LevelInfo,
		LogFormat: "text",

		AuditMaxSize:  audit.DefaultMaxSize,
		AuditMaxFiles: audit.DefaultMaxFiles,
	}
}

// Validate fills in derived values (advertise addresses, node ID, join URL
// schemes) and reports the first setting that cannot work, naming it.
func (c *Config) Validate() error {
	checks := []func() error{
		c.validateAddrs,
		c.validateIdentity,
		c.validateTLS,
		c.validateClusterTLS,
		c.validateMembership,
		c.validateLimits,
		c.validateNodeSecret,
		c.validateEnrollment,
		c.validateAudit,
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// validateAddrs checks the listen addresses and derives the advertised ones.
func (c *Config) validateAddrs() error {
	httpHost, httpPort, err := splitListen("http-addr", c.HTTPAddr)
	if err != nil {
		return err
	}
	raftHost, raftPort, err := splitListen("raft-addr", c.RaftAddr)
	if err != nil {
		return err
	}
	if httpPort == raftPort && (httpHost == raftHost || unspecified(httpHost) || unspecified(raftHost)) {
		return fmt.Errorf("--http-addr %s and --raft-addr %s: both use port %d on the same host", c.HTTPAddr, c.RaftAddr, httpPort)
	}
	if c.AdvertiseHTTP, err = advertised("advertise-http", c.AdvertiseHTTP, "http-addr", c.HTTPAddr); err != nil {
		return err
	}
	if c.AdvertiseRaft, err = advertised("advertise-raft", c.AdvertiseRaft, "raft-addr", c.RaftAddr); err != nil {
		return err
	}
	if strings.EqualFold(c.AdvertiseHTTP, c.AdvertiseRaft) {
		return fmt.Errorf("--advertise-http and --advertise-raft: both are %s; HTTP and Raft need different ports", c.AdvertiseHTTP)
	}
	return nil
}

// validateIdentity checks the node ID, cluster name and data directory.
func (c *Config) validateIdentity() error {
	if c.NodeID == "" {
		c.NodeID = c.AdvertiseRaft
	}
	if strings.ContainsAny(c.NodeID, "/ \t\r\n") {
		return fmt.Errorf("--node-id (node.name) %q: must not contain '/' or white space", c.NodeID)
	}
	if strings.TrimSpace(c.ClusterName) == "" {
		return errors.New("--cluster-name (cluster.name): must not be empty")
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return errors.New("--data-dir (path.data): must not be empty")
	}
	return nil
}

// TLSEnabled reports whether the HTTP API serves https.
func (c *Config) TLSEnabled() bool { return c.TLSCert != "" }

// validateTLS checks the TLS settings and refuses plain http on an address
// other machines can reach unless --insecure says it is meant, as
// Elasticsearch's bootstrap checks do.
func (c *Config) validateTLS() error {
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		return errors.New("--tls-key (xpack.security.http.ssl.key): required with --tls-cert")
	case c.TLSKey != "" && c.TLSCert == "":
		return errors.New("--tls-cert (xpack.security.http.ssl.certificate): required with --tls-key")
	case c.TLSClientCA != "" && c.TLSCert == "":
		return errors.New("--tls-client-ca (xpack.security.http.ssl.certificate_authorities): needs --tls-cert and --tls-key")
	}
	host, _, _ := net.SplitHostPort(c.HTTPAddr) // validateAddrs has checked it
	if !c.TLSEnabled() && !c.Insecure && !loopback(host) {
		return fmt.Errorf("--http-addr %s: listens beyond loopback without TLS, so tokens and passwords would cross the network in clear text; "+
			"set --tls-cert and --tls-key, or pass --insecure to serve plain http anyway", c.HTTPAddr)
	}
	return nil
}

// ClusterTLSEnabled reports whether nodes talk to each other over mutual TLS.
func (c *Config) ClusterTLSEnabled() bool { return c.ClusterCA != "" }

// validateClusterTLS checks the node-to-node TLS settings, fills in the
// node certificate from the HTTP one, and refuses plain Raft on an address
// other machines can reach unless --insecure says it is meant.
func (c *Config) validateClusterTLS() error {
	switch {
	case (c.NodeCert == "") != (c.NodeKey == ""):
		return errors.New("--node-cert and --node-key (xpack.security.transport.ssl.certificate, .key): set both or neither")
	case c.NodeCert != "" && c.ClusterCA == "":
		return errors.New("--node-cert (xpack.security.transport.ssl.certificate): needs --cluster-ca, the CA that signed the members' certificates")
	case c.ClusterCA != "" && !c.TLSEnabled():
		return errors.New("--cluster-ca (xpack.security.transport.ssl.certificate_authorities): needs --tls-cert and --tls-key, " +
			"because nodes call each other's HTTP API and must present their certificates there")
	}
	if c.ClusterCA != "" && c.NodeCert == "" {
		c.NodeCert, c.NodeKey = c.TLSCert, c.TLSKey
	}
	host, _, _ := net.SplitHostPort(c.RaftAddr) // validateAddrs has checked it
	if !c.ClusterTLSEnabled() && !c.Insecure && !loopback(host) {
		return fmt.Errorf("--raft-addr %s: listens beyond loopback without mutual TLS, so any process that reaches it could vote "+
			"and append entries; set --cluster-ca (create certificates with tokend certs), or pass --insecure", c.RaftAddr)
	}
	return nil
}

// loopback reports whether host only accepts connections from this machine.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateMembership checks how the node forms or joins a cluster. With
// TLS, members are reached over https: a bare host:port gets that scheme
// and an http URL is refused.
func (c *Config) validateMembership() error {
	for i, raw := range c.Join {
		if c.TLSEnabled() && !strings.Contains(raw, "://") {
			raw = "https://" + raw
		}
		u, err := joinURL(raw)
		if err != nil {
			return fmt.Errorf("--join %q: %w", raw, err)
		}
		if c.TLSEnabled() && strings.HasPrefix(u, "http://") {
			return fmt.Errorf("--join %q: this node serves https (--tls-cert), so its members are reached over https", raw)
		}
		c.Join[i] = u
	}
	switch {
	case c.Replica && (c.Bootstrap || c.BootstrapExpect > 0):
		return errors.New("--replica: a read replica never forms a cluster; drop --bootstrap and --bootstrap-expect and --join a running one")
	case c.Replica && len(c.Join) == 0:
		return errors.New("--replica: needs --join naming members of the cluster to read from")
	case c.BootstrapExpect < 0:
		return fmt.Errorf("--bootstrap-expect %d: must not be negative", c.BootstrapExpect)
	case c.BootstrapExpect > 0 && c.Bootstrap:
		return errors.New("--bootstrap-expect and --bootstrap: use one; --bootstrap-expect elects the bootstrapping node itself")
	case c.BootstrapExpect > 0 && len(c.Join) == 0:
		return errors.New("--bootstrap-expect: needs --join listing every expected node, this one included")
	case c.BootstrapExpect > len(c.Join):
		return fmt.Errorf("--bootstrap-expect %d: --join lists only %d nodes", c.BootstrapExpect, len(c.Join))
	}
	if c.BootstrapExpect > 0 && !containsString(c.Join, "http://"+c.AdvertiseHTTP, "https://"+c.AdvertiseHTTP) {
		return fmt.Errorf("--bootstrap-expect: --join must list this node's own --advertise-http %s", c.AdvertiseHTTP)
	}
	return nil
}

// validateLimits checks durations and logging settings.
func (c *Config) validateLimits() error {
	if c.TokenTimeout < minTokenTimeout || c.TokenTimeout > maxTokenTimeout {
		return fmt.Errorf("--token-timeout (xpack.security.authc.token.timeout) %s: must be between %s and %s",
			c.TokenTimeout, minTokenTimeout, maxTokenTimeout)
	}
	if c.RequestTimeout <= 0 || c.RequestTimeout > maxRequestTimeout {
		return fmt.Errorf("--request-timeout %s: must be positive and at most %s", c.RequestTimeout, maxRequestTimeout)
	}
	if c.SnapshotThreshold == 0 {
		return errors.New("--raft-snapshot-threshold: must be at least 1")
	}
	if c.SnapshotInterval <= 0 {
		return fmt.Errorf("--raft-snapshot-interval %s: must be positive", c.SnapshotInterval)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format %q: must be text or json", c.LogFormat)
	}
	if c.PprofAddr != "" {
		host, _, err := splitListen("pprof-addr", c.PprofAddr)
		if err != nil {
			return err
		}
		if !loopback(host) {
			return fmt.Errorf("--pprof-addr %s: profiles are served on loopback addresses only", c.PprofAddr)
		}
	}
	return nil
}

// splitListen parses a listen address; an empty host means all interfaces.
func splitListen(flag, addr string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("--%s %q: want host:port: %w", flag, addr, err)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("--%s %q: port must be a number from 1 to 65535", flag, addr)
	}
	return strings.ToLower(host), port, nil
}

// advertised returns the address other nodes should use: the given advertise
// address, or the listen address when that names a concrete host.
func advertised(flag, adv, listenFlag, listen string) (string, error) {
	if adv == "" {
		host, _, err := net.SplitHostPort(listen)
		if err == nil && unspecified(host) {
			return "", fmt.Errorf("--%s: required because --%s %s listens on all interfaces", flag, listenFlag, listen)
		}
		adv = listen
	}
	host, _, err := splitListen(flag, adv)
	if err != nil {
		return "", err
	}
	if unspecified(host) {
		return "", fmt.Errorf("--%s %q: must name a reachable host, not all interfaces", flag, adv)
	}
	return adv, nil
}

// unspecified reports whether a host means "every interface".
func unspecified(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// joinURL normalises one --join entry to a base URL; a bare host:port gets
// the http scheme.
func joinURL(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", errors.New("scheme must be http or https")
	}
	if u.Hostname() == "" {
		return "", errors.New("no host")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("want a base URL without credentials, query or fragment")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// containsString reports whether list holds any of want, ignoring case.
func containsString(list []string, want ...string) bool {
	for _, s := range list {
		for _, w := range want {
			if strings.EqualFold(s, w) {
				return true
			}
		}
	}
	return false
}

// validateAudit derives the audit file's path and checks the rotation
// bounds.
func (c *Config) validateAudit() error {
	if c.AuditMaxSize < 1024 {
		return fmt.Errorf("--audit-max-size %d: must be at least 1024 bytes", c.AuditMaxSize)
	}
	if c.AuditMaxFiles < 1 {
		return fmt.Errorf("--audit-max-files %d: must be at least 1", c.AuditMaxFiles)
	}
	if c.AuditFile == "" {
		c.AuditFile = defaultAuditFile(c.DataDir, c.ClusterName)
	}
	return nil
}

// defaultAuditFile is <data-dir>/../logs/<cluster>_audit.json, or beside
// the data directory when it has no parent ("/", ".").
func defaultAuditFile(dataDir, cluster string) string {
	name := cluster + "_audit.json"
	dir := filepath.Clean(dataDir)
	parent := filepath.Dir(dir)
	if parent == dir {
		return filepath.Join(dir, name)
	}
	return filepath.Join(parent, "logs", name)
}
