package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// runTool parses args (plus the test password) and runs the tool.
func runTool(t *testing.T, args ...string) (config, result) {
	t.Helper()
	cfg, err := parseFlags(append(args, "-password", "pw"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	res, err := execute(context.Background(), cfg, newClient(cfg.c, len(cfg.targets), cfg.roots))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, res
}

func TestRun_MixSendsExactlyNValidRequests(t *testing.T) {
	fake, srv := startFake(t)
	_, res := runTool(t, "-targets", srv.URL+","+srv.URL+"/", "-c", "8", "-n", "600", "-d", "30s",
		"-mix", "authenticate=30,refresh=20,invalidate=20,client_credentials=10,password=10,introspect=5,forward_auth=5")

	hits, malformed := fake.counts()
	if len(malformed) > 0 {
		t.Fatalf("server refused %d requests, first: %s", len(malformed), malformed[0])
	}
	total := 0
	for o := range numOps {
		got := res.ops[o]
		if got.non2xx != 0 || got.transport != 0 {
			t.Errorf("%s: %d non-2xx, %d transport errors; want none", o, got.non2xx, got.transport)
		}
		want := hits[o.String()]
		if o == opClientCredentials {
			want-- // the token authenticate uses, fetched before the run
		}
		if len(got.latencies) != want {
			t.Errorf("%s: tool counted %d, server saw %d", o, len(got.latencies), want)
		}
		if len(got.latencies) == 0 {
			t.Errorf("%s: never sent in a mix that weighs it", o)
		}
		total += len(got.latencies)
	}
	if total != 600 || res.requests() != 600 {
		t.Fatalf("sent %d requests (%d counted), want exactly -n 600", total, res.requests())
	}
}

func TestRun_RefreshChainsEachRefreshTokenOnce(t *testing.T) {
	fake, srv := startFake(t)
	_, res := runTool(t, "-targets", srv.URL, "-c", "1", "-n", "10", "-mix", "refresh")

	hits, malformed := fake.counts()
	if len(malformed) > 0 {
		t.Fatalf("server refused: %v", malformed)
	}
	// The worker starts without a refresh token: one password grant, then
	// nine refreshes, each spending the token the previous answer gave.
	if hits["password"] != 1 || hits["refresh"] != 9 {
		t.Fatalf("server saw %v, want 1 password grant and 9 refreshes", hits)
	}
	if len(res.ops[opPassword].latencies) != 1 || len(res.ops[opRefresh].latencies) != 9 {
		t.Fatalf("tool counted %d password, %d refresh; want 1 and 9",
			len(res.ops[opPassword].latencies), len(res.ops[opRefresh].latencies))
	}
}

func TestRun_UsersSpreadsPasswordGrantsOverNumberedUsers(t *testing.T) {
	fake, srv := startFake(t)
	runTool(t, "-targets", srv.URL, "-c", "1", "-n", "7", "-mix", "password", "-user", "bench", "-users", "3")
	_, malformed := fake.counts()
	if len(malformed) > 0 {
		t.Fatalf("server refused: %v", malformed)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if want := map[string]int{"bench0": 3, "bench1": 2, "bench2": 2}; !reflect.DeepEqual(fake.grantees, want) {
		t.Fatalf("password grants per user %v, want %v", fake.grantees, want)
	}
}

func TestRun_StopsAtDeadline(t *testing.T) {
	_, srv := startFake(t)
	start := time.Now()
	_, res := runTool(t, "-targets", srv.URL, "-c", "4", "-n", "100000000", "-d", "300ms")
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("run took %v with -d 300ms", took)
	}
	if res.elapsed < 300*time.Millisecond || res.requests() == 0 || res.requests() >= 100000000 {
		t.Fatalf("elapsed %v, requests %d: want the deadline, not the count, to end the run", res.elapsed, res.requests())
	}
}

func TestReport_JSONShape(t *testing.T) {
	_, srv := startFake(t)
	cfg, res := runTool(t, "-targets", srv.URL, "-c", "2", "-n", "50", "-mix", "authenticate=3,client_credentials=1", "-json")
	var out bytes.Buffer
	if err := report(&out, cfg, res); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Requests   int            `json:"requests"`
		Throughput float64        `json:"throughput_rps"`
		Mix        map[string]int `json:"mix"`
		Operations map[string]map[string]float64
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if got.Requests != 50 || got.Throughput <= 0 || got.Mix["authenticate"] != 3 || got.Mix["client_credentials"] != 1 {
		t.Fatalf("requests %d, throughput %v, mix %v", got.Requests, got.Throughput, got.Mix)
	}
	sum := 0
	for _, name := range []string{"authenticate", "client_credentials"} {
		o, ok := got.Operations[name]
		if !ok {
			t.Fatalf("operations has no %q: %s", name, out.String())
		}
		for _, k := range []string{"requests", "throughput_rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "errors_non2xx", "errors_transport"} {
			if _, ok := o[k]; !ok {
				t.Errorf("operations.%s has no %q", name, k)
			}
		}
		if !(o["p50_ms"] <= o["p90_ms"] && o["p90_ms"] <= o["p99_ms"] && o["p99_ms"] <= o["max_ms"] && o["max_ms"] > 0) {
			t.Errorf("%s: percentiles out of order: %v", name, o)
		}
		sum += int(o["requests"])
	}
	if sum != 50 || len(got.Operations) != 2 {
		t.Fatalf("operations %v sum to %d requests, want 50 in exactly two operations", got.Operations, sum)
	}
}

func TestReport_TextNamesEachOperation(t *testing.T) {
	_, srv := startFake(t)
	cfg, res := runTool(t, "-targets", srv.URL, "-c", "2", "-n", "20", "-mix", "authenticate,invalidate")
	var out bytes.Buffer
	if err := report(&out, cfg, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"requests     20", "p99 ms", "\nauthenticate ", "\nclient_credentials "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestPercentile(t *testing.T) {
	var sorted []time.Duration
	for i := 1; i <= 100; i++ {
		sorted = append(sorted, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50, 90: 90, 99: 99, 100: 100, 0.5: 1} {
		if got := percentile(sorted, p); got != want*time.Millisecond {
			t.Errorf("p%v = %v, want %v", p, got, want*time.Millisecond)
		}
	}
	if got := percentile([]time.Duration{10, 20, 30}, 50); got != 20 {
		t.Errorf("p50 of 10,20,30 = %v, want 20ns", got)
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %v, want 0", got)
	}
}

func TestParseMix(t *testing.T) {
	m, err := parseMix("authenticate=90, refresh=5,invalidate=5,password=0")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var drawn [numOps]int
	for range 20000 {
		drawn[m.pick(rng)]++
	}
	if drawn[opPassword] != 0 || drawn[opClientCredentials] != 0 {
		t.Errorf("drew operations of weight 0 or absent: %v", drawn)
	}
	if a := drawn[opAuthenticate]; a < 17600 || a > 18400 {
		t.Errorf("authenticate drawn %d of 20000 at weight 90 of 100", a)
	}
	if r := drawn[opRefresh]; r < 800 || r > 1200 {
		t.Errorf("refresh drawn %d of 20000 at weight 5 of 100", r)
	}
	for _, bad := range []string{"", "bogus=1", "authenticate=-1", "authenticate=x", "authenticate=0", "refresh,refresh"} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("-mix %q accepted", bad)
		}
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, target := range []string{"http://10.0.0.1:9200", "http://example.com:9200", "http://127.0.0.1:9200,http://192.168.1.5:9200"} {
		if _, err := parseFlags([]string{"-targets", target}, io.Discard); err == nil || !strings.Contains(err.Error(), "not loopback") {
			t.Errorf("-targets %s: err %v, want a not-loopback refusal", target, err)
		}
	}
	for _, target := range []string{"http://127.0.0.1:9200", "http://127.1.2.3:9200", "http://[::1]:9200", "http://localhost:9200"} {
		if _, err := parseFlags([]string{"-targets", target}, io.Discard); err != nil {
			t.Errorf("-targets %s: %v", target, err)
		}
	}
}

// Against an https target the tool trusts the CA given with -cacert, and
// only that: without it every request fails the certificate check.
func TestRun_HTTPSTargetWithCACert(t *testing.T) {
	fake := &fakeTokend{t: t, hits: map[string]int{}, issued: map[string]bool{},
		refreshes: map[string]bool{}, bearerSeen: map[string]bool{}}
	srv := httptest.NewTLSServer(http.HandlerFunc(fake.serve))
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	_, res := runTool(t, "-targets", srv.URL, "-c", "2", "-n", "40", "-mix", "authenticate=100", "-cacert", caFile)
	if got := res.ops[opAuthenticate]; len(got.latencies) != 40 || got.non2xx != 0 || got.transport != 0 {
		t.Fatalf("with -cacert: %d answered, %d non-2xx, %d transport errors", len(got.latencies), got.non2xx, got.transport)
	}
	cfg, err := parseFlags([]string{"-targets", srv.URL, "-n", "10", "-mix", "authenticate=100", "-password", "pw"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := execute(context.Background(), cfg, newClient(cfg.c, 1, cfg.roots)); err == nil {
		t.Fatal("without -cacert the self-signed server was trusted")
	}
	if _, err := parseFlags([]string{"-cacert", filepath.Join(t.TempDir(), "missing.pem")}, io.Discard); err == nil {
		t.Fatal("a missing -cacert file was accepted")
	}
}
