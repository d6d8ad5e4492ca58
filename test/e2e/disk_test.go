package e2e

import (
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

// seedNode runs a single bootstrapped node with flags, issues tokens until
// it has issued count of them and enough reports true (at most 400), and
// stops it cleanly. It returns the node (its data dir is the seed) and the
// tokens.
func seedNode(t *testing.T, count int, enough func(*proc) bool, flags ...string) (*proc, []string) {
	t.Helper()
	p := newProc(t, "node1", append([]string{"--bootstrap"}, flags...)...)
	p.start()
	waitReady(t, p)
	testkit.Eventually(t, 30*time.Second, "the elastic user", func() error {
		if r, err := testkit.TryDo(p.URL(), "GET", "/_security/_authenticate", "", testkit.Basic("elastic", superPassword)); err != nil || r.Status != 200 {
			return fmt.Errorf("authenticate: %v %d", err, r.Status)
		}
		return nil
	})
	var tokens []string
	for i := 0; i < count || !enough(p); i++ {
		if i == 400 {
			t.Fatalf("the seed node is not ready after %d tokens", i)
		}
		r := do(t, p, "POST", "/_security/oauth2/token", passwordBody("elastic", superPassword), nil)
		if r.Status != 200 {
			t.Fatalf("grant %d: %d %s", i, r.Status, r.Body)
		}
		access, _ := r.JSON(t)["access_token"].(string)
		tokens = append(tokens, access)
	}
	if err := p.stop(); err != nil {
		t.Fatalf("stopping the seed node: %v", err)
	}
	return p, tokens
}

// copyDir copies the regular files and directories of src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		return errorsJoin(err, out.Close())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// restartCopy starts the seed's node again, same ID and flags, on a
// damaged copy of its data dir.
func restartCopy(t *testing.T, seed *proc, damage func(dir string)) *proc {
	t.Helper()
	p := newProc(t, seed.id)
	p.args = slices.Clone(seed.args)
	p.dataDir = filepath.Join(t.TempDir(), "copy")
	p.args[slices.Index(p.args, "--data-dir")+1] = p.dataDir
	p.args[slices.Index(p.args, "--http-addr")+1] = p.httpAddr
	p.args[slices.Index(p.args, "--raft-addr")+1] = p.raftAddr
	copyDir(t, seed.dataDir, p.dataDir)
	damage(p.dataDir)
	p.start()
	return p
}

// wantRefusal waits for p to exit non-zero with a one-line reason that
// names each of parts, and no Go panic or stack trace. It must not serve
// meanwhile, except for a refusal that needs the replayed state to tell
// (a marker from another cluster: allowServing).
func wantRefusal(t *testing.T, p *proc, allowServing bool, parts ...string) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, p.id+" exits", func() error {
		if p.exited() {
			return nil
		}
		if allowServing {
			return io.ErrNoProgress
		}
		if r, err := testkit.TryDo(p.URL(), "GET", "/_tokend/readyz", "", nil); err == nil && r.Status == 200 {
			t.Fatalf("%s started and serves over its damaged data dir:\n%s", p.id, p.out.String())
		}
		return io.ErrNoProgress
	})
	out := p.out.String()
	if p.exitErr == nil {
		t.Fatalf("%s exited 0 over a damaged data dir:\n%s", p.id, out)
	}
	for _, bad := range []string{"panic:", "goroutine ", "SIGSEGV"} {
		if strings.Contains(out, bad) {
			t.Fatalf("%s died with a Go trace (%q) instead of a reason:\n%s", p.id, bad, out)
		}
	}
	for _, part := range append(parts, "tokend remove", "snapshot restore --offline") {
		if !strings.Contains(out, part) {
			t.Fatalf("%s's reason does not name %q:\n%s", p.id, part, out)
		}
	}
}

// damageRaftDB rewrites raft.db with change.
func damageRaftDB(t *testing.T, change func(b []byte) []byte) func(string) {
	return func(dir string) {
		path := filepath.Join(dir, "raft.db")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, change(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// boltPage is bbolt's page size on this platform's 4 KiB memory pages.
const boltPage = 4096

func TestDamagedRaftFiles_TheNodeRefusesToStartAndSaysWhy(t *testing.T) {
	seed, _ := seedNode(t, 30, func(*proc) bool { return true })
	rng := rand.New(rand.NewSource(15))
	cases := []struct {
		name   string
		damage func(dir string)
		names  []string
		late   bool // refused once the state is replayed
	}{
		{"raft.db deleted, marker kept", func(dir string) {
			if err := os.Remove(filepath.Join(dir, "raft.db")); err != nil {
				t.Fatal(err)
			}
		}, []string{"raft.db is missing", "tokend-member.json"}, false},
		{"both bbolt meta pages zeroed", damageRaftDB(t, func(b []byte) []byte {
			clear(b[:2*boltPage])
			return b
		}), []string{"raft.db"}, false},
		{"truncated to 4 KiB", damageRaftDB(t, func(b []byte) []byte { return b[:boltPage] }), []string{"raft.db"}, false},
		{"data pages overwritten with random bytes", damageRaftDB(t, func(b []byte) []byte {
			rng.Read(b[2*boltPage:])
			return b
		}), []string{"raft.db"}, false},
		{"marker does not parse", func(dir string) {
			if err := os.WriteFile(filepath.Join(dir, "tokend-member.json"), []byte("{garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{"tokend-member.json is damaged"}, false},
		{"marker from another cluster", func(dir string) {
			other := `{"version":1,"cluster_uuid":"another-cluster-uuid00","node_id":"node1"}`
			if err := os.WriteFile(filepath.Join(dir, "tokend-member.json"), []byte(other), 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{`"another-cluster-uuid00"`, "tokend-member.json"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantRefusal(t, restartCopy(t, seed, c.damage), c.late, c.names...)
		})
	}
}

// snapshotDirs lists dir/snapshots' snapshot directories, newest first.
func snapshotDirs(t *testing.T, dataDir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dataDir, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasSuffix(e.Name(), ".tmp") {
			dirs = append(dirs, filepath.Join(dataDir, "snapshots", e.Name()))
		}
	}
	slices.SortFunc(dirs, func(a, b string) int { return slices.Compare(snapshotOrder(b), snapshotOrder(a)) })
	return dirs
}

// snapshotOrder is a snapshot directory's term, index and time, the parts
// of its name ("term-index-millis"), as numbers.
func snapshotOrder(dir string) []int {
	var order []int
	for _, part := range strings.Split(filepath.Base(dir), "-") {
		n, _ := strconv.Atoi(part)
		order = append(order, n)
	}
	return order
}

// seedWithSnapshots seeds a node that snapshots every few entries and
// keeps trailing log entries, until it holds two snapshots.
func seedWithSnapshots(t *testing.T, trailing string) (*proc, []string) {
	t.Helper()
	twoSnapshots := func(p *proc) bool { return len(snapshotDirs(t, p.dataDir)) >= 2 }
	seed, tokens := seedNode(t, 20, twoSnapshots, "--raft-snapshot-threshold", "4", "--raft-snapshot-interval", "50ms",
		"--raft-trailing-logs", trailing)
	if n := len(snapshotDirs(t, seed.dataDir)); n < 2 {
		t.Fatalf("the seed holds %d snapshots, want 2", n)
	}
	return seed, tokens
}

// corruptNewestSnapshot flips bytes in the middle of the newest
// snapshot's state.bin, so its checksum no longer matches.
func corruptNewestSnapshot(t *testing.T) func(string) {
	return func(dir string) {
		path := filepath.Join(snapshotDirs(t, dir)[0], "state.bin")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(b) / 2; i < len(b)/2+16 && i < len(b); i++ {
			b[i] ^= 0xff
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDamagedNewestSnapshot_RefusedWhenTheLogNoLongerBridgesToTheOlderOne(t *testing.T) {
	seed, _ := seedWithSnapshots(t, "1")
	t.Run("corrupt", func(t *testing.T) {
		wantRefusal(t, restartCopy(t, seed, corruptNewestSnapshot(t)), false, "snapshots", "is damaged")
	})
	t.Run("truncated", func(t *testing.T) {
		wantRefusal(t, restartCopy(t, seed, func(dir string) {
			if err := os.Truncate(filepath.Join(snapshotDirs(t, dir)[0], "state.bin"), 10); err != nil {
				t.Fatal(err)
			}
		}), false, "snapshots", "is damaged")
	})
}

func TestDamagedNewestSnapshot_FallsBackToTheOlderOneWhenTheLogBridgesTheGap(t *testing.T) {
	seed, tokens := seedWithSnapshots(t, "10000")
	p := restartCopy(t, seed, corruptNewestSnapshot(t))
	waitReady(t, p)
	wantAuth(t, []*proc{p}, tokens[len(tokens)-1], 200, "the newest token after falling back to the older snapshot")
	wantAuth(t, []*proc{p}, tokens[0], 200, "the oldest token after falling back to the older snapshot")
}

func TestMarker_EveryMemberRecordsTheClusterItBelongsTo(t *testing.T) {
	nodes := startCluster(t, 2)
	uuid, _ := do(t, nodes[0], "GET", "/", "", testkit.Basic("elastic", superPassword)).JSON(t)["cluster_uuid"].(string)
	if uuid == "" {
		t.Fatal("no cluster_uuid in GET /")
	}
	for _, p := range nodes {
		testkit.Eventually(t, 30*time.Second, p.id+"'s marker", func() error {
			b, err := os.ReadFile(filepath.Join(p.dataDir, "tokend-member.json"))
			if err != nil {
				return err
			}
			want := fmt.Sprintf(`{"version":1,"cluster_uuid":%q,"node_id":%q}`, uuid, p.id)
			if got := strings.TrimSpace(string(b)); got != want {
				return fmt.Errorf("marker %s, want %s", got, want)
			}
			return nil
		})
	}
}
