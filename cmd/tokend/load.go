package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// esKeys maps the Elasticsearch setting names accepted in the YAML file to the
// flag each one sets. Only settings with the same meaning are mapped: http.port
// and network.host, for example, split what --http-addr holds in one value.
var esKeys = map[string]string{
	"node.name":                          "node-id",
	"node.replica":                       "replica",
	"cluster.name":                       "cluster-name",
	"path.data":                          "data-dir",
	"xpack.security.authc.token.timeout": "token-timeout",

	"xpack.security.audit.enabled":                "audit",
	"xpack.security.audit.logfile.events.include": "audit-include",
	"xpack.security.audit.logfile.events.exclude": "audit-exclude",

	"xpack.security.http.ssl.certificate":             "tls-cert",
	"xpack.security.http.ssl.key":                     "tls-key",
	"xpack.security.http.ssl.certificate_authorities": "tls-client-ca",

	"xpack.security.transport.ssl.certificate_authorities": "cluster-ca",
	"xpack.security.transport.ssl.certificate":             "node-cert",
	"xpack.security.transport.ssl.key":                     "node-key",
}

// Load builds the serve configuration from, highest precedence first: args,
// the environment (TOKEND_<FLAG>, read through getenv; empty counts as unset),
// the YAML file named by --config or TOKEND_CONFIG, and Default. The result
// has been validated. A -h/--help argument returns flag.ErrHelp.
func Load(args []string, getenv func(string) string) (Config, error) {
	cfg := Default()
	fs := cfg.flagSet()
	if err := fs.Parse(args); err != nil {
		return Config{}, usageErr(err)
	}
	if fs.NArg() > 0 {
		return Config{}, usageErr(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	if !onCommandLine["config"] {
		cfg.ConfigFile = getenv(envName("config"))
	}
	file, err := readConfigFile(cfg.ConfigFile, fs)
	if err != nil {
		return Config{}, err
	}
	for _, name := range flagNames(fs) {
		if onCommandLine[name] || name == "config" {
			continue
		}
		if err := applyLower(fs.Lookup(name), getenv, file); err != nil {
			return Config{}, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// applyLower sets one flag not given on the command line from the
// environment, or else from the YAML file; errors name the source.
func applyLower(f *flag.Flag, getenv func(string) string, file map[string]fileSetting) error {
	if v := getenv(envName(f.Name)); v != "" {
		if err := f.Value.Set(v); err != nil {
			return fmt.Errorf("%s (--%s): %w", envName(f.Name), f.Name, err)
		}
		return nil
	}
	if s, ok := file[f.Name]; ok {
		if err := f.Value.Set(s.value); err != nil {
			return fmt.Errorf("config key %s (--%s): %w", s.key, f.Name, err)
		}
	}
	return nil
}

// flagSet binds every serve flag to a field of c, with c's values as defaults.
func (c *Config) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("tokend serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.ConfigFile, "config", c.ConfigFile, "YAML `file` of settings: flag names, or Elasticsearch keys "+strings.Join(sortedKeys(esKeys), ", "))
	fs.StringVar(&c.NodeID, "node-id", c.NodeID, "stable `id` of this node in the cluster")
	fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "HTTP API listen `address`")
	fs.StringVar(&c.RaftAddr, "raft-addr", c.RaftAddr, "Raft listen `address`")
	fs.StringVar(&c.AdvertiseHTTP, "advertise-http", c.AdvertiseHTTP, "HTTP `address` other nodes and clients use (default --http-addr)")
	fs.StringVar(&c.AdvertiseRaft, "advertise-raft", c.AdvertiseRaft, "Raft `address` other nodes use (default --raft-addr)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "`directory` for the Raft log, stable store and snapshots")
	fs.BoolVar(&c.Bootstrap, "bootstrap", c.Bootstrap, "form a new cluster with this node as first voter, if the data dir holds no state")
	fs.Var((*listValue)(&c.Join), "join", "comma-separated HTTP `urls` of existing members to ask for admission")
	fs.IntVar(&c.BootstrapExpect, "bootstrap-expect", c.BootstrapExpect, "with --join listing every node (this one too): form the cluster once `n` nodes are up")
	fs.BoolVar(&c.Replica, "replica", c.Replica, "with --join: be a read replica, a non-voter that is never promoted and serves token checks from its own state")
	fs.StringVar(&c.ClusterName, "cluster-name", c.ClusterName, "cluster `name` reported by GET / and /_cluster/health")
	fs.StringVar(&c.NodeSecret, "node-secret", c.NodeSecret, "shared `secret` that authorises nodes to join (prefer TOKEND_NODE_SECRET)")
	fs.StringVar(&c.EnrollmentToken, "enrollment-token", c.EnrollmentToken, "join the cluster with a `token` from tokend enroll (prefer TOKEND_ENROLLMENT_TOKEN); no password needed")
	fs.DurationVar(&c.TokenTimeout, "token-timeout", c.TokenTimeout, "access token lifetime, at most 1h")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", c.RequestTimeout, "bound on the cluster work of one API request")
	fs.BoolVar(&c.DisableReplayRevocation, "disable-replay-revocation", c.DisableReplayRevocation, "do not invalidate a token family when a used refresh token is replayed")
	fs.Uint64Var(&c.SnapshotThreshold, "raft-snapshot-threshold", c.SnapshotThreshold, "new log `entries` that trigger a Raft snapshot")
	fs.DurationVar(&c.SnapshotInterval, "raft-snapshot-interval", c.SnapshotInterval, "how often Raft checks whether to snapshot")
	fs.Uint64Var(&c.TrailingLogs, "raft-trailing-logs", c.TrailingLogs, "log `entries` kept after a snapshot for slow followers")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "PEM certificate `file` (chain) of the HTTP API; with --tls-key serves https, TLS 1.2+, reloaded on SIGHUP or change")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "PEM private key `file` of --tls-cert")
	fs.StringVar(&c.TLSClientCA, "tls-client-ca", c.TLSClientCA, "PEM CA `file`: require client certificates it signed; also the CA trusted when calling other nodes")
	fs.StringVar(&c.ClusterCA, "cluster-ca", c.ClusterCA, "PEM CA `file` of the cluster (tokend certs ca): Raft and node-to-node calls use mutual TLS with certificates it signed")
	fs.StringVar(&c.NodeCert, "node-cert", c.NodeCert, "PEM certificate `file` this node presents to other nodes (default --tls-cert); reloaded on SIGHUP or change")
	fs.StringVar(&c.NodeKey, "node-key", c.NodeKey, "PEM private key `file` of --node-cert (default --tls-key)")
	fs.BoolVar(&c.Insecure, "insecure", c.Insecure, "allow plain http on a non-loopback --http-addr, and plain Raft on a non-loopback --raft-addr")
	fs.BoolVar(&c.Audit, "audit", c.Audit, "write the audit trail (xpack.security.audit.enabled)")
	fs.StringVar(&c.AuditFile, "audit-file", c.AuditFile, "audit trail `file` (default <data-dir>/../logs/<cluster-name>_audit.json)")
	fs.Var((*listValue)(&c.AuditInclude), "audit-include", "comma-separated audit event `actions` to write (default: all but access_granted and authentication_success; _all: every one)")
	fs.Var((*listValue)(&c.AuditExclude), "audit-exclude", "comma-separated audit event `actions` not to write")
	fs.Int64Var(&c.AuditMaxSize, "audit-max-size", c.AuditMaxSize, "`bytes` of an audit file before it is rotated")
	fs.IntVar(&c.AuditMaxFiles, "audit-max-files", c.AuditMaxFiles, "audit `files` kept, the current one included")
	fs.TextVar(&c.LogLevel, "log-level", c.LogLevel, "log `level`: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log `format`: text or json")
	fs.StringVar(&c.PprofAddr, "pprof-addr", c.PprofAddr, "loopback `address` serving Go's runtime profiles at /debug/pprof/ (default: none)")
	return fs
}

// serveUsage writes the serve flags with their defaults and variables.
func serveUsage(w io.Writer) {
	cfg := Default()
	fs := cfg.flagSet()
	fs.SetOutput(w)
	fmt.Fprintln(w, "Usage: tokend serve [flags]")
	fmt.Fprintln(w, "\nEach flag is also read from TOKEND_<FLAG> (e.g. TOKEND_NODE_ID) and from the --config file;")
	fmt.Fprintln(w, "precedence is flag, environment, file, default. ELASTIC_PASSWORD sets the first elastic password.")
	fmt.Fprintln(w)
	fs.PrintDefaults()
}

// envName is the environment variable for a flag: TOKEND_ plus the flag
// name in upper case with dashes as underscores.
func envName(flagName string) string {
	return "TOKEND_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flagNames lists every flag of fs in lexical order.
func flagNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// listValue is a comma-separated list flag; repeating the flag appends.
type listValue []string

// String joins the list with commas.
func (l *listValue) String() string { return strings.Join(*l, ",") }

// Set appends the non-empty comma-separated items of s.
func (l *listValue) Set(s string) error {
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

// fileSetting is one value from the YAML file and the key it was given under.
type fileSetting struct{ key, value string }

// readConfigFile reads the YAML file at path (none if empty) and returns its
// values by flag name. Nested mappings are read as dotted keys, so both
// `cluster.name: x` and `cluster: {name: x}` work. Unknown keys, two keys for
// the same flag and lists outside join are refused.
func readConfigFile(path string, fs *flag.FlagSet) (map[string]fileSetting, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	flat := map[string]any{}
	flatten("", doc, flat)
	out := map[string]fileSetting{}
	for _, key := range sortedKeys(flat) {
		name := esKeys[key]
		if name == "" && key != "config" && fs.Lookup(key) != nil {
			name = key
		}
		if name == "" {
			return nil, fmt.Errorf("--config %s: unknown key %q", path, key)
		}
		if prev, dup := out[name]; dup {
			return nil, fmt.Errorf("--config %s: keys %q and %q both set --%s", path, prev.key, key, name)
		}
		_, list := fs.Lookup(name).Value.(*listValue)
		value, err := yamlScalar(flat[key], list)
		if err != nil {
			return nil, fmt.Errorf("--config %s: key %q: %w", path, key, err)
		}
		out[name] = fileSetting{key: key, value: value}
	}
	return out, nil
}

// flatten copies the leaves of a decoded YAML mapping into out under dotted keys.
func flatten(prefix string, node map[string]any, out map[string]any) {
	for k, v := range node {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch child := v.(type) {
		case map[string]any:
			flatten(key, child, out)
		case map[any]any:
			m := make(map[string]any, len(child))
			for ck, cv := range child {
				m[fmt.Sprint(ck)] = cv
			}
			flatten(key, m, out)
		default:
			out[key] = v
		}
	}
}

// yamlScalar renders a YAML value as the string a flag parses; a list is
// accepted only where allowList is set and becomes a comma-separated string.
func yamlScalar(v any, allowList bool) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", errors.New("has no value")
	case []any:
		if !allowList {
			return "", errors.New("want a single value, not a list")
		}
		items := make([]string, 0, len(x))
		for _, item := range x {
			s, err := yamlScalar(item, false)
			if err != nil {
				return "", err
			}
			items = append(items, s)
		}
		return strings.Join(items, ","), nil
	default:
		return fmt.Sprint(x), nil
	}
}

// sortedKeys returns the keys of m in lexical order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
