package raftnode

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

func TestHCLogAdapter_KeepsLevelsNamesAndArgs(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := newHCLogger(l, "raft").Named("snapshot").With("id", "n1")
	h.Debug("hidden")
	h.Warn("disk slow", "ms", 42)
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Fatalf("debug line passed an info-level handler: %q", out)
	}
	for _, want := range []string{"level=WARN", "msg=\"disk slow\"", "logger=raft.snapshot", "id=n1", "ms=42"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in %q", want, out)
		}
	}
	if strings.Count(out, "logger=") != 1 {
		t.Errorf("logger attribute repeated: %q", out)
	}
	if h.IsDebug() || !h.IsInfo() || h.GetLevel() != hclog.Info || h.Name() != "raft.snapshot" {
		t.Errorf("level/name: debug=%v info=%v level=%v name=%q", h.IsDebug(), h.IsInfo(), h.GetLevel(), h.Name())
	}
}

func TestHCLogAdapter_RendersHCLogValuesLikeHCLog(t *testing.T) {
	var buf bytes.Buffer
	h := newHCLogger(slog.New(slog.NewTextHandler(&buf, nil)), "raft").With("peer", hclog.Fmt("%s@%d", "n2", 9300))
	servers := []raft.Server{{Suffrage: raft.Voter, ID: "n1", Address: "127.0.0.1:9300"}}
	// As raft.go logs it on start-up.
	h.Info("initial configuration", "index", 1, "servers", hclog.Fmt("%+v", servers))
	h.Warn("odd", "mode", hclog.Octal(8), "mask", hclog.Hex(255), "bits", hclog.Binary(5), "q", hclog.Quote("a\tb"), 7, "v", "dangling")
	out := buf.String()
	for _, want := range []string{
		`servers="[{Suffrage:Voter ID:n1 Address:127.0.0.1:9300}]"`,
		"peer=n2@9300",
		"mode=010", "mask=0xff", "bits=0b101", `q="\"a\\tb\""`,
		"7=v", "EXTRA_VALUE_AT_END=dangling",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
	if strings.Contains(out, "%") || strings.Contains(out, "!BADKEY") {
		t.Errorf("unrendered format or bad key in\n%s", out)
	}
}
