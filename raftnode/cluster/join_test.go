package cluster

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/raftnode/peerauth"
)

func TestJoinClient_RetriesUntilAMemberAccepts(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := peerauth.Request{Method: r.Method, Target: r.RequestURI, BodyDigest: peerauth.BodyDigest([]byte(`{"node_id":"n2","raft_addr":"","http_addr":""}`))}
		proofErr := peerauth.NewReplayGuard(10).Verify([]byte("s3cret"), r.Header.Get(HeaderNodeAuth), q, []string{""}, time.Now())
		if calls.Add(1) < 3 || proofErr != nil || r.Header.Get(HeaderNodeSecret) != "" || r.URL.Path != "/_tokend/cluster/join" {
			w.WriteHeader(503)
			return
		}
		w.Write([]byte(`{"acknowledged":true}`))
	}))
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var failures []string
	_, err := JoinTLS(ctx, nil, []string{"127.0.0.1:1", strings.TrimPrefix(ts.URL, "http://")}, JoinRequest{NodeID: "n2"}, "s3cret", "", "",
		OnJoinFailure(func(url string, err error) { failures = append(failures, url+": "+err.Error()) }))
	if err != nil || calls.Load() != 3 {
		t.Fatalf("Join: %v after %d calls", err, calls.Load())
	}
	// Every failed attempt is reported with its cause: the refused
	// connection and the member's 503, each round, until it accepts.
	if len(failures) != 5 || !strings.Contains(failures[0], "connection refused") || !strings.Contains(failures[1], "503") {
		t.Fatalf("failures reported: %q", failures)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(400) }))
	defer bad.Close()
	if err := Join(ctx, []string{bad.URL}, JoinRequest{}, "", "", ""); err == nil {
		t.Fatal("a 400 was retried into success")
	}
}

// A joiner pins the cluster CA by the token's fingerprint: a member whose
// certificate chain does not hold that CA is refused at once, without
// retries, and one whose chain does is joined.
func TestEnrollment_WrongCAFingerprintRefusesToJoin(t *testing.T) {
	t.Parallel()
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"acknowledged":true,"node_credential":"pinned-cluster-credential"}`))
	}))
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wrong := strings.Repeat("ab", 32)
	start := time.Now()
	_, err := JoinEnrolled(ctx, PinnedTLS(nil, wrong), []string{ts.URL}, JoinRequest{NodeID: "n6", RaftAddr: "n6:9300", HTTPAddr: "n6:9200"}, "some-secret")
	if err == nil || !strings.Contains(err.Error(), ErrUntrustedCluster.Error()) || time.Since(start) > 5*time.Second {
		t.Fatalf("join with a wrong CA fingerprint: %v after %s, want an immediate refusal", err, time.Since(start))
	}
	a, err := JoinEnrolled(ctx, PinnedTLS(nil, Fingerprint(ts.Certificate())), []string{ts.URL}, JoinRequest{NodeID: "n6", RaftAddr: "n6:9300", HTTPAddr: "n6:9200"}, "some-secret")
	if err != nil || a.NodeCredential != "pinned-cluster-credential" {
		t.Fatalf("join with the right fingerprint: %+v, %v", a, err)
	}
}
