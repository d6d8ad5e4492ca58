package main

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/test/testkit"
)

func TestServe_PprofAddrServesProfilesOnItsOwnListenerOnly(t *testing.T) {
	pprofAddr, httpAddr := testkit.FreeAddr(t), testkit.FreeAddr(t)
	const secret = "pprof-test-node-secret-4d2a"
	args := []string{"--node-id", "n1", "--http-addr", httpAddr, "--raft-addr", testkit.FreeAddr(t),
		"--data-dir", filepath.Join(t.TempDir(), "data"), "--pprof-addr", pprofAddr, "--node-secret", secret}
	// The process's command line as tokend serve would have it.
	saved := os.Args
	os.Args = append([]string{"tokend", "serve"}, args...)
	t.Cleanup(func() { os.Args = saved })
	cfg, err := Load(args, envMap())
	if err != nil {
		t.Fatal(err)
	}
	d, err := startDaemon(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.shutdown(func() {}, closedChan()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	c := &http.Client{Timeout: 10 * time.Second}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("http://" + pprofAddr + "/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("goroutine profile on --pprof-addr: %d %.200s", code, body)
	}
	// The command line, which holds --node-secret, is not served.
	if code, body := get("http://" + pprofAddr + "/debug/pprof/cmdline"); code == 200 || strings.Contains(body, secret) {
		t.Fatalf("/debug/pprof/cmdline: %d %.200s", code, body)
	}
	// The API listener does not expose the profiles.
	if code, _ := get("http://" + httpAddr + "/debug/pprof/goroutine?debug=1"); code == 200 {
		t.Fatal("the API listener serves /debug/pprof/")
	}
}

// closedChan is a housekeeping "done" channel for a daemon that never ran it.
func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
