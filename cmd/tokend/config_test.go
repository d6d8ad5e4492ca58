package main

import (
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// envMap returns a getenv over a fixed set of variables.
func envMap(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// writeYAML writes a config file into a temporary directory.
func writeYAML(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokend.yml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustLoad loads a configuration and fails the test on error.
func mustLoad(t *testing.T, args []string, getenv func(string) string) Config {
	t.Helper()
	cfg, err := Load(args, getenv)
	if err != nil {
		t.Fatalf("Load(%q): %v", args, err)
	}
	return cfg
}

func TestLoad_NoSettingsGivesSpecDefaults(t *testing.T) {
	cfg := mustLoad(t, nil, envMap())
	host, _ := os.Hostname()
	want := Config{
		NodeID: host, HTTPAddr: "127.0.0.1:9200", RaftAddr: "127.0.0.1:9300",
		AdvertiseHTTP: "127.0.0.1:9200", AdvertiseRaft: "127.0.0.1:9300",
		DataDir: "./data", ClusterName: "tokend", TokenTimeout: 20 * time.Minute,
		RequestTimeout: 10 * time.Second, LogLevel: slog.LevelInfo, LogFormat: "text",
		SnapshotThreshold: 8192, SnapshotInterval: 30 * time.Second, TrailingLogs: 10240,
		AuditFile: "logs/tokend_audit.json", AuditMaxSize: 64 << 20, AuditMaxFiles: 8,
	}
	if host == "" {
		want.NodeID = want.AdvertiseRaft
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestLoad_EnvironmentOverridesDefaults(t *testing.T) {
	cfg := mustLoad(t, nil, envMap(
		"TOKEND_NODE_ID", "n7",
		"TOKEND_HTTP_ADDR", "127.0.0.1:19200",
		"TOKEND_TOKEN_TIMEOUT", "45m",
		"TOKEND_JOIN", "10.0.0.1:9200, https://b.example:9200/",
		"TOKEND_NODE_SECRET", "s3cret-s3cret-s3cret",
		"TOKEND_LOG_LEVEL", "debug",
		"TOKEND_DISABLE_REPLAY_REVOCATION", "true",
	))
	if cfg.NodeID != "n7" || cfg.HTTPAddr != "127.0.0.1:19200" || cfg.AdvertiseHTTP != "127.0.0.1:19200" {
		t.Errorf("addresses/id from env: %+v", cfg)
	}
	if cfg.TokenTimeout != 45*time.Minute || cfg.LogLevel != slog.LevelDebug || !cfg.DisableReplayRevocation {
		t.Errorf("timeout/level/replay from env: %+v", cfg)
	}
	wantJoin := []string{"http://10.0.0.1:9200", "https://b.example:9200"}
	if !slices.Equal(cfg.Join, wantJoin) || cfg.NodeSecret != "s3cret-s3cret-s3cret" {
		t.Errorf("join = %q, want %q", cfg.Join, wantJoin)
	}
}

func TestLoad_YAMLAcceptsFlagNamesAndElasticsearchKeys(t *testing.T) {
	path := writeYAML(t, `
node.name: es-style
cluster:
  name: prod
path.data: /var/lib/tokend
xpack:
  security.authc.token:
    timeout: 30m
raft-addr: 127.0.0.1:19300
bootstrap: true
log-format: json
`)
	cfg := mustLoad(t, []string{"--config", path}, envMap())
	if cfg.NodeID != "es-style" || cfg.ClusterName != "prod" || cfg.DataDir != "/var/lib/tokend" {
		t.Errorf("ES keys not applied: %+v", cfg)
	}
	if cfg.TokenTimeout != 30*time.Minute || cfg.RaftAddr != "127.0.0.1:19300" || !cfg.Bootstrap || cfg.LogFormat != "json" {
		t.Errorf("flag-name keys not applied: %+v", cfg)
	}
}

func TestLoad_YAMLJoinListAndConfigFromEnv(t *testing.T) {
	path := writeYAML(t, "join: [a:9200, b:9200]\nnode-secret: a-yaml-node-secret\n")
	cfg := mustLoad(t, nil, envMap("TOKEND_CONFIG", path))
	if want := []string{"http://a:9200", "http://b:9200"}; !slices.Equal(cfg.Join, want) {
		t.Fatalf("join = %q, want %q", cfg.Join, want)
	}
}

func TestLoad_PrecedenceIsFlagThenEnvThenFileThenDefault(t *testing.T) {
	path := writeYAML(t, "xpack.security.authc.token.timeout: 3m\ncluster-name: fromfile\n")
	env := envMap("TOKEND_TOKEN_TIMEOUT", "2m", "TOKEND_DATA_DIR", "/env")
	cases := []struct {
		name string
		args []string
		env  func(string) string
		want time.Duration
	}{
		{"flag beats env and file", []string{"--config", path, "--token-timeout", "1m"}, env, time.Minute},
		{"env beats file", []string{"--config", path}, env, 2 * time.Minute},
		{"file beats default", []string{"--config", path}, envMap(), 3 * time.Minute},
		{"default", nil, envMap(), 20 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustLoad(t, tc.args, tc.env).TokenTimeout; got != tc.want {
				t.Errorf("token timeout = %s, want %s", got, tc.want)
			}
		})
	}
	cfg := mustLoad(t, []string{"--config", path}, env)
	if cfg.ClusterName != "fromfile" || cfg.DataDir != "/env" {
		t.Errorf("layers mixed wrongly: cluster %q data %q", cfg.ClusterName, cfg.DataDir)
	}
}

func TestLoad_RefusalsNameTheSource(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  func(string) string
		file string
		want string
	}{
		{"unknown yaml key", nil, envMap(), "http.port: 9200\n", `unknown key "http.port"`},
		{"config key in yaml", nil, envMap(), "config: other.yml\n", `unknown key "config"`},
		{"two keys one flag", nil, envMap(), "node.name: a\nnode-id: b\n", `keys "node-id" and "node.name" both set --node-id`},
		{"list where scalar", nil, envMap(), "node-id: [a]\n", `key "node-id": want a single value`},
		{"bad duration in yaml", nil, envMap(), "xpack.security.authc.token.timeout: soon\n", "xpack.security.authc.token.timeout (--token-timeout)"},
		{"bad duration in env", nil, envMap("TOKEND_TOKEN_TIMEOUT", "20"), "", "TOKEND_TOKEN_TIMEOUT (--token-timeout)"},
		{"bad duration flag", []string{"--token-timeout", "x"}, envMap(), "", "-token-timeout"},
		{"bad bool env", nil, envMap("TOKEND_BOOTSTRAP", "maybe"), "", "TOKEND_BOOTSTRAP (--bootstrap)"},
		{"bad log level", []string{"--log-level", "loud"}, envMap(), "", "-log-level"},
		{"unknown flag", []string{"--nope"}, envMap(), "", "-nope"},
		{"stray argument", []string{"extra"}, envMap(), "", `unexpected argument "extra"`},
		{"missing file", []string{"--config", "/nonexistent/tokend.yml"}, envMap(), "", "--config"},
		{"yaml syntax", nil, envMap(), "node-id: [\n", "--config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeYAML(t, tc.file)}, args...)
			}
			_, err := Load(args, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoad_HelpReturnsErrHelp(t *testing.T) {
	if _, err := Load([]string{"-h"}, envMap()); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Load(-h) = %v, want flag.ErrHelp", err)
	}
}

func TestValidate_RefusalsNameTheSetting(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"all-interfaces http without advertise", func(c *Config) { c.HTTPAddr = "0.0.0.0:9200" }, "--advertise-http: required"},
		{"empty-host raft without advertise", func(c *Config) { c.RaftAddr = ":9300" }, "--advertise-raft: required"},
		{"advertise all interfaces", func(c *Config) { c.AdvertiseRaft = "0.0.0.0:9300" }, "--advertise-raft"},
		{"advertise ipv6 unspecified", func(c *Config) { c.AdvertiseHTTP = "[::]:9200" }, "--advertise-http"},
		{"advertise empty host", func(c *Config) { c.AdvertiseHTTP = ":9200" }, "--advertise-http"},
		{"equal ports same host", func(c *Config) { c.RaftAddr = "127.0.0.1:9200" }, "--http-addr 127.0.0.1:9200 and --raft-addr"},
		{"equal ports, one on all interfaces", func(c *Config) {
			c.HTTPAddr, c.AdvertiseHTTP, c.RaftAddr = "0.0.0.0:9300", "10.0.0.1:9200", "127.0.0.1:9300"
		}, "--http-addr"},
		{"equal advertise", func(c *Config) {
			c.HTTPAddr, c.AdvertiseHTTP, c.AdvertiseRaft = "127.0.0.1:9201", "10.0.0.1:9200", "10.0.0.1:9200"
		}, "--advertise-http and --advertise-raft"},
		{"bad http addr", func(c *Config) { c.HTTPAddr = "localhost" }, "--http-addr"},
		{"port out of range", func(c *Config) { c.RaftAddr = "127.0.0.1:70000" }, "--raft-addr"},
		{"port zero", func(c *Config) { c.HTTPAddr = "127.0.0.1:0" }, "--http-addr"},
		{"token timeout over 1h", func(c *Config) { c.TokenTimeout = 61 * time.Minute }, "--token-timeout (xpack.security.authc.token.timeout)"},
		{"token timeout zero", func(c *Config) { c.TokenTimeout = 0 }, "--token-timeout"},
		{"request timeout zero", func(c *Config) { c.RequestTimeout = 0 }, "--request-timeout"},
		{"request timeout beyond request-ID memory", func(c *Config) { c.RequestTimeout = 2 * time.Minute },
			"--request-timeout 2m0s: must be positive and at most 1m0s"},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, "--log-format"},
		{"pprof beyond loopback", func(c *Config) { c.PprofAddr = "0.0.0.0:6060" }, "--pprof-addr 0.0.0.0:6060: profiles are served on loopback addresses only"},
		{"pprof bad address", func(c *Config) { c.PprofAddr = "6060" }, "--pprof-addr"},
		{"snapshot threshold zero", func(c *Config) { c.SnapshotThreshold = 0 }, "--raft-snapshot-threshold"},
		{"snapshot interval zero", func(c *Config) { c.SnapshotInterval = 0 }, "--raft-snapshot-interval"},
		{"node id with slash", func(c *Config) { c.NodeID = "a/b" }, "--node-id (node.name)"},
		{"empty cluster name", func(c *Config) { c.ClusterName = "" }, "--cluster-name (cluster.name)"},
		{"empty data dir", func(c *Config) { c.DataDir = " " }, "--data-dir (path.data)"},
		{"join bad scheme", func(c *Config) { c.Join = []string{"ftp://a:1"} }, `--join "ftp://a:1"`},
		{"join no host", func(c *Config) { c.Join = []string{"http://"} }, "--join"},
		{"expect negative", func(c *Config) { c.BootstrapExpect = -1 }, "--bootstrap-expect"},
		{"short node secret", func(c *Config) { c.NodeSecret = "fifteen-bytes!!" }, "--node-secret: 15 bytes, at least 16 needed"},
		{"expect without join", func(c *Config) { c.BootstrapExpect = 3 }, "--bootstrap-expect"},
		{"expect with bootstrap", func(c *Config) { c.BootstrapExpect, c.Bootstrap = 1, true }, "--bootstrap-expect and --bootstrap"},
		{"expect more than listed", func(c *Config) {
			c.BootstrapExpect, c.Join, c.NodeSecret = 3, []string{"127.0.0.1:9200", "b:9200"}, "s"
		}, "--bootstrap-expect 3"},
		{"expect list lacks self", func(c *Config) {
			c.BootstrapExpect, c.Join, c.NodeSecret = 2, []string{"a:9200", "b:9200"}, "s"
		}, "own --advertise-http"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			tc.mutate(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestValidate_AllInterfacesWithAdvertiseIsAccepted(t *testing.T) {
	cfg := Default()
	cfg.HTTPAddr, cfg.RaftAddr = "0.0.0.0:9200", ":9300"
	cfg.AdvertiseHTTP, cfg.AdvertiseRaft = "tokend-0:9200", "tokend-0:9300"
	cfg.NodeID = ""
	cfg.Insecure = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.NodeID != "tokend-0:9300" {
		t.Errorf("empty node id should default to the advertised raft address, got %q", cfg.NodeID)
	}
}

func TestValidate_BootstrapExpectWithSelfListed(t *testing.T) {
	cfg := Default()
	cfg.BootstrapExpect, cfg.NodeSecret = 3, "sixteen-byte-sec"
	cfg.Join = []string{"127.0.0.1:9200", "127.0.0.1:9201", "127.0.0.1:9202"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
