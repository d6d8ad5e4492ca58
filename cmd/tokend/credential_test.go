package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
	"github.com/tokend/tokend/raftnode/peerauth"
	"github.com/tokend/tokend/test/testkit"
)

// plainConfig is a loopback node configuration without TLS or node secret.
func plainConfig(t *testing.T, dataDir string, extra ...string) Config {
	t.Helper()
	args := append([]string{"--node-id", "n1", "--http-addr", testkit.FreeAddr(t), "--raft-addr", testkit.FreeAddr(t),
		"--data-dir", dataDir}, extra...)
	cfg, err := Load(args, envMap())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// formedByOlderBuild leaves in dir the Raft state of a bootstrapped node and
// no node credential, as a build before the credential did.
func formedByOlderBuild(t *testing.T, dir string) {
	t.Helper()
	node, err := raftnode.Open(raftnode.Config{NodeID: "n1", RaftBind: testkit.FreeAddr(t), DataDir: dir,
		Credential: peerauth.NewCredential([]byte("credential-of-the-old-days")), Logger: slog.New(slog.DiscardHandler)}, fsm.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	if err := node.Shutdown(); err != nil {
		t.Fatal(err)
	}
}

// A member whose data dir holds Raft state but no credential, started
// without --node-secret or --cluster-ca, refuses to start and names the fix;
// given --node-secret it starts.
func TestServe_MemberWithoutACredentialRefusesToStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	formedByOlderBuild(t, dir)

	d, err := startDaemon(plainConfig(t, dir), slog.New(slog.DiscardHandler))
	if err == nil {
		d.node.Shutdown()
		t.Fatal("a member without a node credential started")
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "set the same --node-secret") ||
		!strings.Contains(msg, peerauth.FileName) {
		t.Fatalf("refusal %q: want one line naming the file and the fix", msg)
	}

	d, err = startDaemon(plainConfig(t, dir, "--node-secret", "the-operators-new-node-secret"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("with --node-secret: %v", err)
	}
	if err := d.node.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, peerauth.FileName)); !os.IsNotExist(err) {
		t.Fatalf("--node-secret was written to the data dir (%v); it stays the operator's", err)
	}
}

// A kept credential is loaded at start; --node-secret takes precedence.
func TestLoadCredential_FlagThenFileThenNone(t *testing.T) {
	dir := t.TempDir()
	cfg := plainConfig(t, dir)
	if c, err := loadCredential(cfg); err != nil {
		t.Fatal(err)
	} else if _, ok := c.Secret(); ok {
		t.Fatal("a credential out of nothing")
	}
	if err := peerauth.Save(dir, []byte("kept-node-credential-0001")); err != nil {
		t.Fatal(err)
	}
	if c, _ := loadCredential(cfg); !secretIs(c, "kept-node-credential-0001") {
		t.Fatal("the kept credential was not loaded")
	}
	cfg.NodeSecret = "operator-node-secret-0001"
	if c, _ := loadCredential(cfg); !secretIs(c, "operator-node-secret-0001") {
		t.Fatal("--node-secret did not take precedence")
	}
}

func secretIs(c *peerauth.Credential, want string) bool {
	got, ok := c.Secret()
	return ok && string(got) == want
}
