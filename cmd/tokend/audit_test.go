package main

import (
	"path/filepath"
	"slices"
	"testing"
)

// The audit trail is configured by Elasticsearch's keys (lists for the
// filters) or by TOKEND_AUDIT, and its file defaults to
// <data-dir>/../logs/<cluster>_audit.json.
func TestLoad_AuditFromElasticsearchKeysAndEnv(t *testing.T) {
	path := writeYAML(t, `
cluster.name: prod
path.data: /var/lib/tokend/data
xpack.security.audit:
  enabled: true
  logfile.events:
    include: [access_denied, token_created]
    exclude: [token_created]
`)
	cfg := mustLoad(t, []string{"--config", path}, envMap())
	if !cfg.Audit || !slices.Equal(cfg.AuditInclude, []string{"access_denied", "token_created"}) ||
		!slices.Equal(cfg.AuditExclude, []string{"token_created"}) {
		t.Fatalf("audit settings not applied: %+v", cfg)
	}
	if want := filepath.FromSlash("/var/lib/tokend/logs/prod_audit.json"); cfg.AuditFile != want {
		t.Fatalf("audit file %q, want %q", cfg.AuditFile, want)
	}
	cfg = mustLoad(t, []string{"--data-dir", "/"}, envMap("TOKEND_AUDIT", "true"))
	if !cfg.Audit || cfg.AuditFile != filepath.FromSlash("/tokend_audit.json") {
		t.Fatalf("TOKEND_AUDIT or the parentless default: %v %q", cfg.Audit, cfg.AuditFile)
	}
	if _, err := Load([]string{"--audit-max-files", "0"}, envMap()); err == nil {
		t.Fatal("--audit-max-files 0 accepted")
	}
}
