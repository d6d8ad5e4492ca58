package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokend/tokend/test/testkit"
)

// cli runs a tokend operator command with the superuser's password and
// returns its exit code, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), "ELASTIC_PASSWORD="+superPassword)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String(), errOut.String()
	case err != nil:
		t.Fatalf("tokend %v: %v", args, err)
	}
	return 0, out.String(), errOut.String()
}

// mustCLI runs a command that must succeed.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := cli(t, args...)
	if code != 0 {
		t.Fatalf("tokend %v: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}

// wantAuth checks the status of _authenticate with access on every node.
func wantAuth(t *testing.T, nodes []*proc, access string, status int, what string) {
	t.Helper()
	for _, p := range nodes {
		if r := authenticate(t, p, access); r.Status != status {
			t.Fatalf("%s on %s: %d, want %d: %s", what, p.id, r.Status, status, r.Body)
		}
	}
}

func TestBackup_OnlineRestoreBringsTheSavedStateBackOnEveryNode(t *testing.T) {
	nodes := startCluster(t, 3)
	kept, _ := getToken(t, nodes[0], "elastic", superPassword)
	file := filepath.Join(t.TempDir(), "backup.snapshot")
	out := mustCLI(t, "snapshot", "save", "--addr", nodes[1].URL(), file)
	if !strings.Contains(out, "saved the snapshot") {
		t.Fatalf("save output: %s", out)
	}

	if r := do(t, nodes[2], "DELETE", "/_security/oauth2/token", `{"token":"`+kept+`"}`, nil); r.Status != 200 {
		t.Fatalf("invalidate: %d %s", r.Status, r.Body)
	}
	later, _ := getToken(t, nodes[2], "elastic", superPassword)

	saved, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	r := do(t, nodes[1], "PUT", "/_tokend/snapshot", string(saved[:len(saved)-8]), testkit.Basic("elastic", superPassword))
	if r.Status != 400 || !strings.Contains(r.String(), `"type":"snapshot_restore_exception"`) {
		t.Fatalf("restore of a truncated upload: %d %s", r.Status, r.Body)
	}
	wantAuth(t, nodes, later, 200, "token issued after the save, after a refused restore")

	out = mustCLI(t, "snapshot", "restore", "--yes", "--addr", nodes[2].URL(), file)
	if !strings.Contains(out, "restored the snapshot") {
		t.Fatalf("restore output: %s", out)
	}
	wantAuth(t, nodes, kept, 200, "token invalidated after the save, after the restore")
	wantAuth(t, nodes, later, 401, "token issued after the save, after the restore")
	fresh, _ := getToken(t, nodes[1], "elastic", superPassword)
	wantAuth(t, nodes, fresh, 200, "token issued after the restore")
}

func TestBackup_OfflineRestoreRebuildsAClusterThatOthersJoin(t *testing.T) {
	old := startCluster(t, 1)[0]
	access, _ := getToken(t, old, "elastic", superPassword)
	file := filepath.Join(t.TempDir(), "backup.snapshot")
	mustCLI(t, "snapshot", "save", "--addr", old.URL(), file)
	if err := old.stop(); err != nil {
		t.Fatalf("stop the old cluster: %v", err)
	}

	rebuilt := newProc(t, "rebuilt")
	restore := []string{"snapshot", "restore", "--offline", "--data-dir", rebuilt.dataDir,
		"--node-id", rebuilt.id, "--raft-addr", rebuilt.raftAddr, file}
	mustCLI(t, restore...)
	if code, _, errOut := cli(t, restore...); code != 1 || !strings.Contains(errOut, "not empty") {
		t.Fatalf("offline restore into a used dir: exit %d, %s", code, errOut)
	}
	rebuilt.start()
	waitReady(t, rebuilt)
	joiner := newProc(t, "joiner", "--join", rebuilt.URL())
	joiner.start()
	for _, p := range []*proc{rebuilt, joiner} {
		waitMembers(t, p, 2)
	}
	wantAuth(t, []*proc{rebuilt, joiner}, access, 200, "token from the backup")
	fresh, _ := getToken(t, joiner, "elastic", superPassword)
	wantAuth(t, []*proc{rebuilt, joiner}, fresh, 200, "token issued on the rebuilt cluster")
}
