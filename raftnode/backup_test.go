package raftnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/test/testkit"
)

// saveBytes saves a snapshot on n and returns its bytes.
func saveBytes(t *testing.T, n *Node) []byte {
	t.Helper()
	snap, err := n.SaveSnapshot(testCtx(t))
	if err != nil {
		t.Fatalf("save snapshot on %s: %v", n.ID(), err)
	}
	defer snap.Close()
	b, err := io.ReadAll(snap)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != snap.Size {
		t.Fatalf("snapshot has %d bytes, Size says %d", len(b), snap.Size)
	}
	return b
}

// stateBytes returns n's state as snapshot bytes (equal states, equal bytes).
func stateBytes(t *testing.T, n *Node) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := n.fsm.Snapshot().WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSaveSnapshot_FollowerAnswersNotLeader(t *testing.T) {
	c := newCluster(t, 2, nil)
	if _, err := c.followers()[0].SaveSnapshot(testCtx(t)); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("save on a follower: %v, want ErrNotLeader", err)
	}
}

func TestRestoreSnapshot_RefusesDamagedSnapshotAndKeepsState(t *testing.T) {
	c := newCluster(t, 1, nil)
	l := c.leader()
	for k := range 5 {
		c.propose(fmt.Sprintf("kept-%d", k))
	}
	good := saveBytes(t, l)
	c.propose("after-save")
	before := stateBytes(t, l)
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x01
	badVersion := bytes.Clone(good)
	badVersion[9] = 99
	damaged := map[string][]byte{
		"flipped byte":       flipped,
		"truncated":          good[:len(good)-10],
		"cut in the header":  good[:12],
		"unknown version":    badVersion,
		"not a snapshot":     []byte(`{"hello":"world"}`),
		"empty":              nil,
		"data after trailer": append(bytes.Clone(good), 0),
	}
	for name, b := range damaged {
		_, err := l.RestoreSnapshot(testCtx(t), bytes.NewReader(b))
		if !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: restore = %v, want ErrBadSnapshot", name, err)
		}
	}
	if !bytes.Equal(stateBytes(t, l), before) {
		t.Fatal("a refused restore changed the state")
	}
	if _, err := os.Stat(filepath.Join(c.cfgs[0].DataDir, restoreSpool)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("spool left behind: %v", err)
	}
}

func TestRestoreSnapshot_EveryNodeServesTheRestoredState(t *testing.T) {
	c := newCluster(t, 3, nil)
	for k := range 3 {
		c.propose(fmt.Sprintf("before-%d", k))
	}
	saved := saveBytes(t, c.leader())
	for k := range 3 {
		c.propose(fmt.Sprintf("after-%d", k))
	}
	l := c.leader()
	res, err := l.RestoreSnapshot(testCtx(t), bytes.NewReader(saved))
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if res.Size != int64(len(saved)) || res.Header.Records == 0 {
		t.Fatalf("restored %+v from %d bytes", res, len(saved))
	}
	for _, n := range c.live() {
		eventually(t, waitLong, func() bool { return n.AppliedIndex() >= res.Index }, "%s applies the restore", n.ID())
		for k := range 3 {
			if _, ok := n.fsm.NodeAddr(fmt.Sprintf("before-%d", k)); !ok {
				t.Errorf("%s lost before-%d", n.ID(), k)
			}
			if _, ok := n.fsm.NodeAddr(fmt.Sprintf("after-%d", k)); ok {
				t.Errorf("%s still has after-%d", n.ID(), k)
			}
		}
		c.sameState(n)
	}
	// Right after a restore the commit index must be one the FSM reaches:
	// a linearizable read may not wait for the next write.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if idx, err := l.ReadIndex(ctx); err != nil || idx < res.Index {
		t.Fatalf("read index after restore: %d, %v (restore index %d)", idx, err, res.Index)
	}
	c.propose("after-restore")
}

func TestRestoreOffline_RefusesNonEmptyDirAndBadSnapshot(t *testing.T) {
	c := newCluster(t, 1, nil)
	good := saveBytes(t, c.leader())
	addr := testkit.FreeAddr(t)

	busy := t.TempDir()
	marker := filepath.Join(busy, "raft.db")
	if err := os.WriteFile(marker, []byte("state"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := RestoreOffline(OfflineRestore{DataDir: busy, NodeID: "n", RaftAddr: addr}, bytes.NewReader(good))
	if !errors.Is(err, ErrDataDirNotEmpty) {
		t.Fatalf("restore into a used dir: %v, want ErrDataDirNotEmpty", err)
	}
	if b, _ := os.ReadFile(marker); string(b) != "state" {
		t.Fatal("the refused restore touched the existing data")
	}

	empty := t.TempDir()
	_, err = RestoreOffline(OfflineRestore{DataDir: empty, NodeID: "n", RaftAddr: addr}, bytes.NewReader(good[:len(good)-1]))
	if !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("restore of a truncated file: %v, want ErrBadSnapshot", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Fatalf("a refused restore left %d entries in the data dir", len(entries))
	}
	if _, err := RestoreOffline(OfflineRestore{DataDir: empty, NodeID: "n", RaftAddr: "0.0.0.0:9300"}, bytes.NewReader(good)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("restore with an unspecified address: %v, want ErrInvalidConfig", err)
	}
}

func TestRestoreOffline_NodeStartsAsOnlyVoterAndOthersJoin(t *testing.T) {
	c := newCluster(t, 1, nil)
	for k := range 3 {
		c.propose(fmt.Sprintf("backed-up-%d", k))
	}
	saved := saveBytes(t, c.leader())

	dir, addr := filepath.Join(t.TempDir(), "rebuilt"), testkit.FreeAddr(t)
	res, err := RestoreOffline(OfflineRestore{DataDir: dir, NodeID: "rebuilt", RaftAddr: addr}, bytes.NewReader(saved))
	if err != nil {
		t.Fatalf("offline restore: %v", err)
	}
	rebuilt := openNode(t, testConfig("rebuilt", dir, addr), fsm.New())
	if !rebuilt.HasState() {
		t.Fatal("the rebuilt node reports no state")
	}
	eventually(t, waitLong, rebuilt.IsLeader, "the rebuilt node elects itself")
	if got := rebuilt.AppliedIndex(); got < res.Header.Index {
		t.Fatalf("rebuilt node at index %d, snapshot at %d", got, res.Header.Index)
	}
	joiner := openNode(t, testConfig("joiner", t.TempDir(), "127.0.0.1:0"), fsm.New())
	if err := rebuilt.Join(testCtx(t), joiner.ID(), joiner.Addr()); err != nil {
		t.Fatalf("join: %v", err)
	}
	for _, n := range []*Node{rebuilt, joiner} {
		eventually(t, waitLong, func() bool {
			_, ok := n.fsm.NodeAddr("backed-up-2")
			return ok
		}, "%s serves the backed-up state", n.ID())
	}
	if _, _, err := rebuilt.Propose(testCtx(t), &fsm.SetNode{NodeID: "new", HTTPAddr: "x"}); err != nil {
		t.Fatalf("write on the rebuilt cluster: %v", err)
	}
}

// openNode opens a node that the test shuts down at its end.
func openNode(t *testing.T, cfg Config, f *fsm.FSM) *Node {
	t.Helper()
	n, err := Open(cfg, f)
	if err != nil {
		t.Fatalf("open %s: %v", cfg.NodeID, err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	return n
}
