package main

import (
	"strings"
	"testing"
)

func TestLoad_ReplicaFromFlagEnvAndYAML(t *testing.T) {
	join := []string{"--join", "127.0.0.1:9200"}
	if cfg := mustLoad(t, append([]string{"--replica"}, join...), envMap()); !cfg.Replica {
		t.Error("--replica not applied")
	}
	if cfg := mustLoad(t, join, envMap("TOKEND_REPLICA", "true")); !cfg.Replica {
		t.Error("TOKEND_REPLICA not applied")
	}
	path := writeYAML(t, "node:\n  replica: true\njoin: [127.0.0.1:9200]\n")
	if cfg := mustLoad(t, []string{"--config", path}, envMap()); !cfg.Replica {
		t.Error("YAML node.replica not applied")
	}
}

func TestValidate_ReplicaNeedsJoinAndNeverForms(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"no join":          {[]string{"--replica"}, "--replica: needs --join"},
		"bootstrap":        {[]string{"--replica", "--bootstrap"}, "--replica: a read replica never forms a cluster"},
		"bootstrap-expect": {[]string{"--replica", "--bootstrap-expect", "1", "--join", "127.0.0.1:9200"}, "--replica: a read replica never forms a cluster"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(tc.args, envMap())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}
