package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// smallDisk mounts a 1 MiB tmpfs for the test, or skips the test where
// the machine does not allow it.
func smallDisk(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (needs root or CAP_SYS_ADMIN): %v %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes path until the filesystem has no space left.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for range 1 << 10 { // 4 MiB at most: more than the disk holds
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("%s never filled the disk", path)
}

const noSpace = "no space left on device"

func TestFullDisk_NamedByHealthStatusNodesReadyzAndWritesThenRecoversWithoutRestart(t *testing.T) {
	disk := smallDisk(t)
	p := newProc(t, "node1", "--bootstrap")
	p.dataDir = filepath.Join(disk, "data")
	p.args[slices.Index(p.args, "--data-dir")+1] = p.dataDir
	p.start()
	waitReady(t, p)
	basic := testkit.Basic("elastic", superPassword)
	testkit.Eventually(t, 30*time.Second, "the elastic user", func() error {
		if r, err := testkit.TryDo(p.URL(), "GET", "/_security/_authenticate", "", basic); err != nil || r.Status != 200 {
			return fmt.Errorf("authenticate: %v %d", err, r.Status)
		}
		return nil
	})
	filler := filepath.Join(disk, "filler")
	fillDisk(t, filler)

	var refused testkit.Response
	testkit.Eventually(t, 30*time.Second, "a write refused with the disk named", func() error {
		refused = do(t, p, "POST", "/_security/oauth2/token", passwordBody("elastic", superPassword), nil)
		if refused.Status != 503 || !strings.Contains(string(refused.Body), noSpace) {
			return fmt.Errorf("write: %d %s", refused.Status, refused.Body)
		}
		return nil
	})
	if !strings.Contains(string(refused.Body), "raft.db") {
		t.Fatalf("the 503 does not name the file: %s", refused.Body)
	}
	health := do(t, p, "GET", "/_cluster/health", "", basic)
	if m := health.JSON(t); m["status"] != "red" || !strings.Contains(fmt.Sprint(m["reason"]), noSpace) {
		t.Fatalf("health does not say red for the disk: %s", health.Body)
	}
	if st := do(t, p, "GET", "/_tokend/cluster/status", "", basic); !strings.Contains(fmt.Sprint(st.JSON(t)["disk_error"]), noSpace) {
		t.Fatalf("status has no disk_error: %s", st.Body)
	}
	if r := do(t, p, "GET", "/_tokend/readyz", "", nil); r.Status != 503 || !strings.Contains(string(r.Body), noSpace) {
		t.Fatalf("readyz: %d %s", r.Status, r.Body)
	}
	if out := mustCLI(t, "nodes", "--addr", p.URL()); !strings.Contains(out, "DISK: node node1") || !strings.Contains(out, noSpace) {
		t.Fatalf("tokend nodes does not name the disk:\n%s", out)
	}
	for range 5 {
		do(t, p, "POST", "/_security/oauth2/token", passwordBody("elastic", superPassword), nil)
	}
	if n := strings.Count(p.out.String(), "the disk refuses writes"); n != 1 {
		t.Fatalf("the disk condition was logged %d times in one episode, want once", n)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "writes work again without a restart", func() error {
		r, err := testkit.TryDo(p.URL(), "POST", "/_security/oauth2/token", passwordBody("elastic", superPassword), nil)
		if err != nil {
			return err
		}
		if r.Status != 200 {
			return fmt.Errorf("write: %d %s", r.Status, r.Body)
		}
		return nil
	})
	if health := do(t, p, "GET", "/_cluster/health", "", basic); health.JSON(t)["reason"] != nil {
		t.Fatalf("health still names a disk condition after recovery: %s", health.Body)
	}
	if !strings.Contains(p.out.String(), "the disk accepts writes again") {
		t.Fatal("the end of the disk condition was not logged")
	}
	if p.exited() {
		t.Fatalf("node exited: %v", p.exitErr)
	}
}
