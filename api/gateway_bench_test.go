package api

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
)

// benchBasic is the Authorization header of benchServer's elastic user.
var benchBasic = "Basic " + base64.StdEncoding.EncodeToString([]byte("elastic:bench-pw"))

// benchIntrospect serves POST /oauth2/introspect of benchServer's live
// access token b.N times, the caller sending authorization (given the
// token), and checks each answer is a 200 saying active.
func benchIntrospect(b *testing.B, authorization func(access string) string) {
	h, access := benchServer(b)
	form := "token=" + access
	body := strings.NewReader(form)
	rc := io.NopCloser(body)
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:9200"+introspectPath, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Authorization", authorization(access))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.ContentLength = int64(len(form))
	w := &activeWriter{discardWriter: discardWriter{h: http.Header{}}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.status, w.active = http.StatusOK, false
		body.Reset(form)
		req.Body = rc
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK || !w.active {
			b.Fatalf("status %d, active %v", w.status, w.active)
		}
	}
}

// activeWriter is a discardWriter that notes whether the body said
// "active":true.
type activeWriter struct {
	discardWriter
	active bool
}

func (w *activeWriter) Write(p []byte) (int, error) {
	w.active = w.active || bytes.HasPrefix(p, []byte(`{"active":true`))
	return len(p), nil
}

// BenchmarkIntrospect_Basic is a gateway introspecting with the elastic
// user's Basic credentials, which the verify cache answers after the first
// request: what scripts/bench.sh measures with wrk.
func BenchmarkIntrospect_Basic(b *testing.B) {
	benchIntrospect(b, func(string) string { return benchBasic })
}

// BenchmarkIntrospect_Bearer is a caller introspecting with a token of a
// user holding the privilege (here the token introspected).
func BenchmarkIntrospect_Bearer(b *testing.B) {
	benchIntrospect(b, func(access string) string { return "Bearer " + access })
}

// BenchmarkIntrospect_ForwardAuth is GET /_tokend/auth with a Bearer token,
// what nginx's auth_request sends on every request it passes; named with
// the introspection benchmarks so that -bench Introspect runs all gateway
// checks.
func BenchmarkIntrospect_ForwardAuth(b *testing.B) {
	h, access := benchServer(b)
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:9200"+forwardAuthPath, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Authorization", "Bearer "+access)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK || w.h.Get(headerAuthUser) != "elastic" {
			b.Fatalf("status %d, user %q", w.status, w.h.Get(headerAuthUser))
		}
	}
}
