package api

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/cluster"
	"github.com/tokend/tokend/raftnode/peerauth"
)

// discardWriter is a ResponseWriter that keeps only the status, so the
// benchmarks measure the handler and not a recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// benchServer is a seeded single-node Server (no listener) with an elastic
// user whose password is "bench-pw" and one live access token for it.
func benchServer(b *testing.B) (http.Handler, string) {
	b.Helper()
	node := newFakeLeader("n1")
	srv, err := New(Config{NodeID: "n1", HTTPAdvertise: "127.0.0.1:9200", Credential: peerauth.NewCredential([]byte(testSecret)),
		RequestTimeout: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, node, node.state)
	if err != nil {
		b.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("bench-pw"), bcrypt.MinCost)
	if err != nil {
		b.Fatal(err)
	}
	access, digest := credentials.NewToken(credentials.AccessPrefix)
	now := time.Now().UnixMilli()
	for _, c := range []fsm.Command{
		&fsm.InitCluster{UUID: "bench"},
		&fsm.SetNode{NodeID: "n1", HTTPAddr: "127.0.0.1:9200"},
		&fsm.PutUser{User: fsm.User{Username: "elastic", Hash: hash, Roles: []string{"superuser"}, Enabled: true, Realm: fsm.ReservedRealm}},
		&fsm.CreateToken{Access: digest, User: "elastic", Realm: fsm.ReservedRealm, Lifetime: time.Hour.Milliseconds()},
	} {
		c.Header().Time, c.Header().ID = now, cluster.NewRequestID()
		if res, _, err := node.Propose(context.Background(), c); err != nil || res.Status != fsm.OK {
			b.Fatalf("seeding %T: %v %v", c, res.Status, err)
		}
	}
	return srv.Handler(), access
}

// benchAuthenticate serves GET /_security/_authenticate with the given
// Authorization header b.N times and checks each answer is a 200.
func benchAuthenticate(b *testing.B, authorization func(access string) string) {
	h, access := benchServer(b)
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:9200/_security/_authenticate", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Authorization", authorization(access))
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.status = http.StatusOK
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

func BenchmarkAuthenticateHandler_Bearer(b *testing.B) {
	benchAuthenticate(b, func(access string) string { return "Bearer " + access })
}

// BenchmarkAuthenticateHandler_Basic measures repeat Basic authentication,
// which the verify cache answers without bcrypt after the first request.
func BenchmarkAuthenticateHandler_Basic(b *testing.B) {
	benchAuthenticate(b, func(string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte("elastic:bench-pw"))
	})
}

// BenchmarkTokenHashing is what issuing and checking a token cost in
// hashing: a fresh token and its digest, and a presented token's parse and
// digest.
func BenchmarkTokenHashing(b *testing.B) {
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			credentials.NewToken(credentials.AccessPrefix)
		}
	})
	tok, _ := credentials.NewToken(credentials.AccessPrefix)
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := credentials.ParseToken(credentials.AccessPrefix, tok); !ok {
				b.Fatal("a fresh token did not parse")
			}
		}
	})
}

// BenchmarkAuthenticateHandler_BearerParallel is the Bearer benchmark from
// every CPU at once, as under many client connections: the shared caches
// must not serialise it.
func BenchmarkAuthenticateHandler_BearerParallel(b *testing.B) {
	h, access := benchServer(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:9200/_security/_authenticate", nil)
		if err != nil {
			b.Error(err)
			return
		}
		req.RemoteAddr = "127.0.0.1:40000"
		req.Header.Set("Authorization", "Bearer "+access)
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			w.status = http.StatusOK
			h.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Errorf("status %d", w.status)
				return
			}
		}
	})
}
