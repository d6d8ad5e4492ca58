package raftnode

import (
	"errors"
	"testing"
	"time"
)

func TestConfigValidate_RefusesBadValues(t *testing.T) {
	base := Config{NodeID: "n1", RaftBind: "127.0.0.1:9300", DataDir: "/tmp/x", Credential: testCredential}
	cases := map[string]func(*Config){
		"empty NodeID":               func(c *Config) { c.NodeID = "" },
		"empty DataDir":              func(c *Config) { c.DataDir = "" },
		"neither TLS nor credential": func(c *Config) { c.Credential = nil },
		"bad bind":                   func(c *Config) { c.RaftBind = "nonsense" },
		"advertise 0.0.0.0":          func(c *Config) { c.RaftAdvertise = "0.0.0.0:9300" },
		"advertise ::":               func(c *Config) { c.RaftAdvertise = "[::]:9300" },
		"advertise no port":          func(c *Config) { c.RaftAdvertise = "10.0.0.1:0" },
		"unspecified bind alone":     func(c *Config) { c.RaftBind = "0.0.0.0:9300" },
		"empty host bind alone":      func(c *Config) { c.RaftBind = ":9300" },
		"lease > heartbeat": func(c *Config) {
			c.HeartbeatTimeout, c.LeaderLeaseTimeout = 100*time.Millisecond, time.Second
		},
		"election < heartbeat": func(c *Config) {
			c.HeartbeatTimeout, c.ElectionTimeout = time.Second, 100*time.Millisecond
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := base
			mutate(&cfg)
			if err := cfg.Validate(); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestConfigValidate_FillsDefaults(t *testing.T) {
	cfg := Config{NodeID: "n1", RaftBind: "127.0.0.1:9300", DataDir: "/tmp/x", Credential: testCredential}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.RaftAdvertise != "127.0.0.1:9300" || cfg.ApplyTimeout != DefaultApplyTimeout ||
		cfg.SnapshotThreshold != DefaultSnapshotThreshold || cfg.TrailingLogs != DefaultTrailingLogs ||
		cfg.SnapshotInterval != DefaultSnapshotInterval || cfg.HeartbeatTimeout != time.Second ||
		cfg.ElectionTimeout != time.Second || cfg.LeaderLeaseTimeout != 500*time.Millisecond ||
		cfg.Logger == nil {
		t.Fatalf("defaults not filled: %+v", cfg)
	}
	short := Config{NodeID: "n1", RaftBind: "0.0.0.0:0", RaftAdvertise: "10.1.2.3:9300",
		DataDir: "/tmp/x", HeartbeatTimeout: 200 * time.Millisecond, Credential: testCredential}
	if err := short.Validate(); err != nil {
		t.Fatalf("bind 0.0.0.0 with an advertise address: %v", err)
	}
	if short.LeaderLeaseTimeout != 100*time.Millisecond {
		t.Fatalf("lease = %v, want half the heartbeat", short.LeaderLeaseTimeout)
	}
}
