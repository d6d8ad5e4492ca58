package audit

import (
	"encoding/base64"
	"encoding/hex"
	"github.com/tokend/tokend/test/testkit"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokend/tokend/fsm"
)

// digestEncodings are the forms a digest could be written in.
func digestEncodings(d fsm.Digest) []string {
	return []string{hex.EncodeToString(d[:]), base64.StdEncoding.EncodeToString(d[:]),
		base64.RawURLEncoding.EncodeToString(d[:]), string(d[:])}
}

func actions(events []map[string]any) []string {
	var out []string
	for _, e := range events {
		out = append(out, e["event.action"].(string))
	}
	return out
}

// The default filter leaves out access_granted and authentication_success;
// include and exclude work as Elasticsearch's settings do.
func TestTrail_FiltersByAction(t *testing.T) {
	all := []string{ActionAccessGranted, ActionAuthenticationSuccess, ActionAccessDenied, ActionAuthenticationFailed, ActionTokenCreated}
	for _, c := range []struct {
		name             string
		include, exclude []string
		want             string
	}{
		{"default", nil, nil, "access_denied authentication_failed token_created"},
		{"all", []string{"_all"}, nil, strings.Join(all, " ")},
		{"include", []string{ActionAccessGranted, ActionTokenCreated}, nil, "access_granted token_created"},
		{"exclude", nil, []string{ActionTokenCreated}, "access_denied authentication_failed"},
		{"all but", []string{"_all"}, []string{ActionAccessGranted}, "authentication_success access_denied authentication_failed token_created"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.json")
			tr, err := Open(Options{Path: path, Include: c.include, Exclude: c.exclude, NodeID: "n1"})
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range all {
				if a == ActionTokenCreated {
					err = tr.Log(uint64(i+1), []Event{{Timestamp: StampMillis(0), Type: TypeLog, Action: a}})
				} else {
					err = tr.Request(Event{Action: a})
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := tr.Close(); err != nil {
				t.Fatal(err)
			}
			events := testkit.JSONLines(t, path)
			if got := strings.Join(actions(events), " "); got != c.want {
				t.Fatalf("written %q, want %q", got, c.want)
			}
			for _, e := range events {
				if e["node.id"] != "n1" || e["@timestamp"] == "" {
					t.Fatalf("event without node or time: %v", e)
				}
			}
		})
	}
}

// Reopened after a crash that cut a line in half, the trail drops the
// partial line, knows the last index it holds, skips the replayed entries
// up to it and writes the rest once.
func TestTrail_ResumesAfterTheLastIndexItHolds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "c_audit.json")
	tr, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 5; i++ {
		if err := tr.Log(i, []Event{{Type: TypeLog, Action: ActionTokenCreated, Index: i}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Request(Event{Action: ActionAccessDenied}); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"@timestamp":"2026-01-01T00:00:00.000Z","event.type":"log","event.action":"token_cr`)
	f.Close()

	tr, err = Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if tr.LastIndex() != 5 {
		t.Fatalf("last index %d, want 5", tr.LastIndex())
	}
	for i := uint64(3); i <= 7; i++ { // Raft replays from its snapshot at 2
		if err := tr.Log(i, []Event{{Type: TypeLog, Action: ActionTokenCreated, Index: i}}); err != nil {
			t.Fatal(err)
		}
	}
	tr.Close()
	var got []float64
	for _, e := range testkit.JSONLines(t, path) {
		if i, ok := e["log.index"].(float64); ok {
			got = append(got, i)
		}
	}
	if len(got) != 7 {
		t.Fatalf("log indexes %v, want 1 to 7 once each", got)
	}
	for i, idx := range got {
		if idx != float64(i+1) {
			t.Fatalf("log indexes %v, want 1 to 7 once each", got)
		}
	}
}

// Files rotate by size and their number stays bounded; the newest log
// index is found in a rotated file when the current one holds none.
func TestTrail_RotatesBySizeAndKeepsBoundedFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.json")
	tr, err := Open(Options{Path: path, MaxSize: 2048, MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 200; i++ {
		if err := tr.Log(i, []Event{{Type: TypeLog, Action: ActionTokenCreated, UserName: "someone", Index: i}}); err != nil {
			t.Fatal(err)
		}
	}
	tr.Close()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Fatalf("%d files, want 3", len(entries))
	}
	for _, e := range entries {
		if info, _ := e.Info(); info.Size() > 2048 {
			t.Fatalf("%s is %d bytes, over the 2048 bound", e.Name(), info.Size())
		}
	}
	tr, err = Open(Options{Path: path, MaxSize: 2048, MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	if tr.LastIndex() != 200 {
		t.Fatalf("last index %d, want 200", tr.LastIndex())
	}
	tr.Close()
	rotatedEvents := testkit.JSONLines(t, path+".1")
	want := rotatedEvents[len(rotatedEvents)-1]["log.index"].(float64)
	os.Remove(path) // as if rotated just before a crash
	tr, err = Open(Options{Path: path, MaxSize: 2048, MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if float64(tr.LastIndex()) != want {
		t.Fatalf("last index %d, want %v from the rotated file", tr.LastIndex(), want)
	}
}
