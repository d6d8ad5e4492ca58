package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/peerauth"
	"github.com/tokend/tokend/snapshot"
)

// testSnapshot returns the bytes of a small state's snapshot.
func testSnapshot(t *testing.T) []byte {
	t.Helper()
	f := fsm.New()
	f.Apply(1, &fsm.PutUser{User: fsm.User{Username: "alice", Hash: []byte("h"), Enabled: true, Realm: fsm.NativeRealm}})
	for i := range 50 {
		f.Apply(uint64(i+2), &fsm.CreateToken{Meta: fsm.Meta{Time: time.Now().UnixMilli()},
			Access: fsm.DigestOf(fmt.Sprint("t", i)), User: "alice", Realm: fsm.NativeRealm, Lifetime: 60000})
	}
	var b bytes.Buffer
	if _, err := f.Snapshot().WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// snapshotNode serves the snapshot routes: GET answers download, PUT keeps
// the upload and answers like the leader.
type snapshotNode struct {
	download []byte
	uploads  [][]byte
	requests int
}

func (n *snapshotNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.requests++
	switch r.Method + " " + r.URL.Path {
	case "GET " + snapshotPath:
		w.Header().Set("Content-Length", strconv.Itoa(len(n.download)))
		w.Header().Set("X-Tokend-Snapshot-Index", "42")
		w.Header().Set("X-Tokend-Snapshot-Term", "3")
		w.Write(n.download)
	case "PUT " + snapshotPath:
		b, _ := io.ReadAll(r.Body)
		n.uploads = append(n.uploads, b)
		h, err := snapshot.Verify(bytes.NewReader(b))
		if err != nil || r.Header.Get("Content-Type") != "application/octet-stream" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"root_cause":[],"type":"snapshot_restore_exception","reason":"refused"},"status":400}`)
			return
		}
		fmt.Fprintf(w, `{"acknowledged":true,"index":77,"snapshot":{"index":%d,"records":%d,"bytes":%d}}`, h.Index, h.Records, len(b))
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// startSnapshotNode serves n on a local listener.
func startSnapshotNode(t *testing.T, n *snapshotNode) *httptest.Server {
	srv := httptest.NewServer(n)
	t.Cleanup(srv.Close)
	return srv
}

func TestSnapshotSave_WritesVerifiedFileAndSummary(t *testing.T) {
	snap := testSnapshot(t)
	srv := startSnapshotNode(t, &snapshotNode{download: snap})
	file := filepath.Join(t.TempDir(), "backup.snapshot")

	code, out, errOut := runCLI(t, srv, "", "snapshot", "save", file)
	if code != 0 || !strings.Contains(out, "index 42 (52 records") || !strings.HasSuffix(out, "to "+file+"\n") || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got, _ := os.ReadFile(file); !bytes.Equal(got, snap) {
		t.Fatal("saved file differs from the download")
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}

	code, out, _ = runCLI(t, srv, "", "snapshot", "save", "--json", file)
	var v savedSnapshot
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Records != 52 || v.Bytes != int64(len(snap)) || v.Index != 42 || v.Term != 3 {
		t.Fatalf("exit %d, --json output %q", code, out)
	}
}

func TestSnapshotSave_DamagedDownloadKeepsExistingFile(t *testing.T) {
	snap := testSnapshot(t)
	flipped := bytes.Clone(snap)
	flipped[len(flipped)/2] ^= 1
	for name, body := range map[string][]byte{"truncated": snap[:len(snap)-5], "flipped": flipped} {
		srv := startSnapshotNode(t, &snapshotNode{download: body})
		file := filepath.Join(t.TempDir(), "backup.snapshot")
		if err := os.WriteFile(file, []byte("previous backup"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := runCLI(t, srv, "", "snapshot", "save", file)
		if code != 1 || !strings.Contains(errOut, "downloading the snapshot: snapshot: ") {
			t.Fatalf("%s: exit %d, stderr %q", name, code, errOut)
		}
		if got, _ := os.ReadFile(file); string(got) != "previous backup" {
			t.Fatalf("%s: the existing file was replaced", name)
		}
		if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
			t.Fatalf("%s: temporary file left behind: %v", name, err)
		}
	}
}

func TestSnapshotRestore_UploadsVerifiedFileAndSummary(t *testing.T) {
	snap := testSnapshot(t)
	node := &snapshotNode{}
	srv := startSnapshotNode(t, node)
	file := filepath.Join(t.TempDir(), "backup.snapshot")
	if err := os.WriteFile(file, snap, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, srv, "", "snapshot", "restore", "--yes", file)
	if code != 0 || !strings.Contains(out, "(52 records") || !strings.Contains(out, "serves it from index 77") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if len(node.uploads) != 1 || !bytes.Equal(node.uploads[0], snap) {
		t.Fatal("the server did not receive the file as it is")
	}
}

func TestSnapshotRestore_WithoutConfirmationSaysWhatItReplacesAndSendsNothing(t *testing.T) {
	node := &snapshotNode{}
	srv := startSnapshotNode(t, node)
	file := filepath.Join(t.TempDir(), "backup.snapshot")
	if err := os.WriteFile(file, testSnapshot(t), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, srv, "yes\n", "snapshot", "restore", file)
	if code != 2 || node.requests != 0 {
		t.Fatalf("without --yes and without a terminal: exit %d, %d requests, stderr %q", code, node.requests, errOut)
	}
	for _, want := range []string{"snapshot of log index 51", "50 access tokens, 0 refresh tokens, 1 users",
		"tokens revoked since then work again", "pass --yes"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestSnapshotRestore_DamagedFileIsNotSent(t *testing.T) {
	snap := testSnapshot(t)
	node := &snapshotNode{}
	srv := startSnapshotNode(t, node)
	file := filepath.Join(t.TempDir(), "backup.snapshot")
	if err := os.WriteFile(file, snap[:len(snap)-1], 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, srv, "", "snapshot", "restore", "--yes", file)
	if code != 1 || !strings.Contains(errOut, "nothing was sent") || !strings.Contains(errOut, "truncated") || node.requests != 0 {
		t.Fatalf("exit %d, stderr %q, %d requests", code, errOut, node.requests)
	}
}

func TestSnapshotRestoreOffline_WritesEmptyDirOnlyAndNeedsItsFlags(t *testing.T) {
	srv := startSnapshotNode(t, &snapshotNode{})
	file := filepath.Join(t.TempDir(), "backup.snapshot")
	if err := os.WriteFile(file, testSnapshot(t), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	args := []string{"snapshot", "restore", "--offline", "--data-dir", dir, "--node-id", "n1", "--raft-addr", "127.0.0.1:9300", file}
	code, out, errOut := runCLI(t, srv, "", args...)
	if code != 0 || !strings.Contains(out, "52 records") || !strings.Contains(out, "tokend serve --data-dir "+dir+" --node-id n1 --raft-addr 127.0.0.1:9300") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// The rebuilt cluster's first node gets a credential of its own: a
	// backup holds none, and without one the node would refuse to start.
	if fi, err := os.Stat(filepath.Join(dir, peerauth.FileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("node credential after an offline restore: %v, %v", fi, err)
	}
	code, _, errOut = runCLI(t, srv, "", args...)
	if code != 1 || !strings.Contains(errOut, "refusing to restore into --data-dir "+dir+", which is not empty") {
		t.Fatalf("second offline restore: exit %d, stderr %q", code, errOut)
	}
	for _, bad := range [][]string{
		{"snapshot", "restore", "--offline", "--data-dir", t.TempDir(), file},
		{"snapshot", "restore", "--data-dir", t.TempDir(), file},
		{"snapshot", "restore", "--offline", "--data-dir", t.TempDir(), "--node-id", "n", "--raft-addr", "0.0.0.0:1", file},
		{"snapshot", "copy", file},
		{"snapshot"},
	} {
		if code, _, errOut := runCLI(t, srv, "", bad...); code != 2 {
			t.Errorf("%v: exit %d (stderr %q), want 2", bad, code, errOut)
		}
	}
}

func TestProgress_DrawsBytesAndRecordsThenEndsTheLine(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, verb: "downloading", size: 4 << 20, records: 2048}
	r := p.reader(bytes.NewReader(make([]byte, 1<<20)))
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	for range 1024 {
		p.record()
	}
	p.done()
	p.note("next step")
	want := "\rdownloading 1.0 MiB of 4.0 MiB (25%), 1024 of 2048 records " +
		"\rdownloading 1.0 MiB of 4.0 MiB (25%), 1024 of 2048 records \nnext step\n"
	if b.String() != want {
		t.Fatalf("progress output\n got %q\nwant %q", b.String(), want)
	}
	quiet := newProgress(env{stderr: &b}, false, "x", 1)
	if quiet.w != nil {
		t.Fatal("progress draws on a stderr that is not a terminal")
	}
}
