package raftnode

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/snapshot"
	"github.com/tokend/tokend/test/testkit"
)

// scaleTokens is the size of the large backup test; raceTokens the size of
// its variant that runs under the race detector.
const (
	scaleTokens = 1_000_000
	raceTokens  = 20_000
)

func TestBackup_MillionTokensSaveRestoreOnlineAndOffline(t *testing.T) {
	if raceEnabled {
		t.Skip("1M tokens take minutes under -race; scripts/test.sh runs this test without -race " +
			"(TestBackup_RaceSizedSaveRestoreOnlineAndOffline covers the same path with -race)")
	}
	backupAtScale(t, scaleTokens)
}

func TestBackup_RaceSizedSaveRestoreOnlineAndOffline(t *testing.T) {
	backupAtScale(t, raceTokens)
}

// tokenName is the (fake) plaintext of the i-th test token.
func tokenName(i int) string { return fmt.Sprintf("tok-%d", i) }

// seedTokens returns an FSM holding n access tokens of user alice, every
// other one with a refresh token, applied directly (not through Raft).
func seedTokens(t *testing.T, n int) *fsm.FSM {
	t.Helper()
	f := fsm.New()
	now := time.Now().UnixMilli()
	alice := fsm.User{Username: "alice", Hash: []byte("$2a$10$hash"), Enabled: true, Realm: fsm.NativeRealm}
	if r := f.Apply(0, &fsm.PutUser{Meta: fsm.Meta{Time: now}, User: alice}); r.Status != fsm.OK {
		t.Fatalf("put user: %v", r.Status)
	}
	for i := range n {
		c := &fsm.CreateToken{Meta: fsm.Meta{Time: now}, Access: fsm.DigestOf(tokenName(i)), User: "alice",
			Realm: fsm.NativeRealm, Lifetime: time.Hour.Milliseconds()}
		if i%2 == 0 {
			c.Refresh = fsm.DigestOf("r" + tokenName(i))
		}
		if r := f.Apply(0, c); r.Status != fsm.OK {
			t.Fatalf("token %d: %v", i, r.Status)
		}
	}
	return f
}

// backupAtScale saves a state of n tokens from one single-node cluster,
// restores it online into another and offline into an empty data dir, and
// checks counts and a sample of tokens on both, logging times and size.
func backupAtScale(t *testing.T, n int) {
	start := time.Now()
	src := seedTokens(t, n)
	want := src.Counts()
	t.Logf("seeded %d access and %d refresh tokens in %v", want.AccessTokens, want.RefreshTokens, time.Since(start))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	a := openNode(t, testConfig("a", t.TempDir(), "127.0.0.1:0"), src)
	bootstrapAlone(t, a)
	file := filepath.Join(t.TempDir(), "backup.snapshot")
	start = time.Now()
	saveToFile(t, ctx, a, file)
	size := fileSize(t, file)
	t.Logf("save: %v for %.1f MiB", time.Since(start), float64(size)/(1<<20))
	verifyFile(t, file)

	b := openNode(t, testConfig("b", t.TempDir(), "127.0.0.1:0"), fsm.New())
	bootstrapAlone(t, b)
	if _, _, err := b.Propose(ctx, &fsm.SetNode{NodeID: "b-only", HTTPAddr: "x"}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	res, err := b.RestoreSnapshot(ctx, openFile(t, file))
	if err != nil {
		t.Fatalf("online restore: %v", err)
	}
	t.Logf("online restore: %v (%d records)", time.Since(start), res.Header.Records)
	checkTokens(t, b.fsm, want, n)
	if _, ok := b.fsm.NodeAddr("b-only"); ok {
		t.Error("the restored node kept state from before the restore")
	}

	dir, addr := filepath.Join(t.TempDir(), "c"), testkit.FreeAddr(t)
	start = time.Now()
	if _, err := RestoreOffline(OfflineRestore{DataDir: dir, NodeID: "c", RaftAddr: addr}, openFile(t, file)); err != nil {
		t.Fatalf("offline restore: %v", err)
	}
	c := openNode(t, testConfig("c", dir, addr), fsm.New())
	eventually(t, time.Minute, c.IsLeader, "the offline-restored node elects itself")
	t.Logf("offline restore and start: %v", time.Since(start))
	checkTokens(t, c.fsm, want, n)
}

// bootstrapAlone makes n a single-node cluster and waits for leadership.
func bootstrapAlone(t *testing.T, n *Node) {
	t.Helper()
	if err := n.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitLong, n.IsLeader, "%s becomes leader", n.ID())
}

// saveToFile streams a snapshot of n into file.
func saveToFile(t *testing.T, ctx context.Context, n *Node, file string) {
	t.Helper()
	snap, err := n.SaveSnapshot(ctx)
	if err != nil {
		t.Fatalf("save: %v", err)
	}
	defer snap.Close()
	out, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, snap); err != nil {
		t.Fatal(err)
	}
}

// verifyFile checks file's container with snapshot.Verify.
func verifyFile(t *testing.T, file string) {
	t.Helper()
	h, err := snapshot.Verify(openFile(t, file))
	if err != nil {
		t.Fatalf("saved file does not verify: %v", err)
	}
	t.Logf("saved snapshot: index %d, %d records", h.Index, h.Records)
}

func openFile(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func fileSize(t *testing.T, name string) int64 {
	t.Helper()
	st, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// checkTokens compares f's counts with want and looks up 1000 of the n
// seeded tokens, spread over the whole range.
func checkTokens(t *testing.T, f *fsm.FSM, want fsm.Counts, n int) {
	t.Helper()
	if got := f.Counts(); got.AccessTokens != want.AccessTokens || got.RefreshTokens != want.RefreshTokens || got.Users != want.Users {
		t.Fatalf("counts %+v, want %+v", got, want)
	}
	step := max(n/1000, 1)
	for i := 0; i < n; i += step {
		tok, ok := f.AccessToken(fsm.DigestOf(tokenName(i)))
		if !ok || tok.User != "alice" || tok.Invalidated {
			t.Fatalf("token %d: %+v, found %v", i, tok, ok)
		}
		if _, ok := f.RefreshToken(fsm.DigestOf("r" + tokenName(i))); ok != (i%2 == 0) {
			t.Fatalf("refresh token %d: found %v", i, ok)
		}
	}
}
