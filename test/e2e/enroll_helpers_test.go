package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/tokend/tokend/raftnode/cluster"
)

// readCredential returns the node credential kept in p's data dir.
func readCredential(t *testing.T, p *proc) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dataDir, "node-credential"))
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}

// enrollmentSecret is the one-time credential inside an enrollment token.
func enrollmentSecret(t *testing.T, token string) string {
	t.Helper()
	e, err := cluster.ParseEnrollment(token)
	if err != nil {
		t.Fatal(err)
	}
	return e.Secret
}
