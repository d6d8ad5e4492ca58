package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/raftnode/peerauth"
)

// proofFor returns header pairs for do that make a request to n a node's
// (from, "" for a node that is not a member yet), with a proof under the
// test credential for method, target and body.
func (n *testNode) proofFor(from, method, target, body string) []string {
	q := peerauth.Request{Method: method, Target: target, Audience: n.srv.cfg.NodeID, NodeID: from,
		BodyDigest: peerauth.BodyDigest([]byte(body))}
	hdr := []string{headerNodeAuth, peerauth.Sign([]byte(testSecret), q, time.Now())}
	if from != "" {
		hdr = append(hdr, headerForwarded, from)
	}
	return hdr
}

// The client address a follower vouches for is trusted only under its
// proof, once: a captured proof replayed later, or with another address,
// is refused, and a claimed address without a proof is ignored.
func TestClientAddr_VouchedOnlyUnderAValidSingleUseProof(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	const path, body = "/_security/_authenticate", ""
	// What the follower sends when it forwards a request of 192.0.2.7.
	fwd := httptest.NewRequest("GET", path, nil)
	follower.srv.cluster.Sign(fwd, "n1", "192.0.2.7", nil)
	captured := []string{headerForwarded, fwd.Header.Get(headerForwarded), headerNodeAuth, fwd.Header.Get(headerNodeAuth),
		headerClientAddr, fwd.Header.Get(headerClientAddr)}
	if strings.Contains(strings.Join(captured, " "), testSecret) {
		t.Fatal("the forwarded request carries the credential itself")
	}

	seen := ""
	req := httptest.NewRequest("GET", path, nil)
	req.RemoteAddr = "10.0.0.2:4567" // the follower
	for i := 0; i+1 < len(captured); i += 2 {
		req.Header.Set(captured[i], captured[i+1])
	}
	got, err := leader.srv.gate.authenticateNode(req)
	if err != nil {
		t.Fatalf("the follower's proof: %v", err)
	}
	seen = clientAddr(got)
	if seen != "192.0.2.7" {
		t.Fatalf("vouched address %q, want 192.0.2.7", seen)
	}

	// Replayed later, from anywhere: refused.
	w := leader.serveFrom("203.0.113.5:999", "GET", path, body, append(captured, basicAuth("elastic", "wrong")...)...)
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "node proof already used") {
		t.Fatalf("replayed proof: %d %s", w.Code, w.Body)
	}
	// Another address under a fresh proof's signature: refused.
	fresh := httptest.NewRequest("GET", path, nil)
	follower.srv.cluster.Sign(fresh, "n1", "192.0.2.7", nil)
	w = leader.serveFrom("203.0.113.5:999", "GET", path, body, headerForwarded, "n2",
		headerNodeAuth, fresh.Header.Get(headerNodeAuth), headerClientAddr, "198.51.100.1")
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "node proof does not match") {
		t.Fatalf("proof with another client address: %d %s", w.Code, w.Body)
	}
	// A claimed address without a proof is not believed.
	plain := httptest.NewRequest("GET", path, nil)
	plain.RemoteAddr = "10.0.0.9:1"
	plain.Header.Set(headerClientAddr, "192.0.2.7")
	plain.Header.Set(headerForwarded, "n2")
	got, err = leader.srv.gate.authenticateNode(plain)
	if err != nil || clientAddr(got) != "10.0.0.9" {
		t.Fatalf("unproven client address: %v %q", err, clientAddr(got))
	}
}

// 100 wrong proofs from one address: a small burst of 401s, then 429, all
// counted; a node at another address is not affected.
func TestNodeAuth_WrongProofsAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	n := newLeader(t, nil)
	const path = "/_tokend/cluster/status"
	codes := map[int]int{}
	for i := range 100 {
		q := peerauth.Request{Method: "GET", Target: path, Audience: "n1", NodeID: "n2", BodyDigest: peerauth.BodyDigest(nil)}
		proof := peerauth.Sign([]byte("a-guessed-secret-"+strings.Repeat("x", i%7)), q, time.Now())
		codes[n.serveFrom("192.0.2.50:1", "GET", path, "", headerNodeAuth, proof, headerForwarded, "n2").Code]++
	}
	if codes[http.StatusUnauthorized] != credentials.NodeFailureBurst || codes[http.StatusTooManyRequests] != 100-credentials.NodeFailureBurst {
		t.Errorf("100 wrong proofs answered %v, want %d × 401 then 429", codes, credentials.NodeFailureBurst)
	}
	if w := n.serveFrom("10.0.0.2:1", "GET", path, "", n.proofFor("n2", "GET", path, "")...); w.Code != http.StatusOK {
		t.Errorf("a node at another address: %d %s", w.Code, w.Body)
	}
	e, _ := n.scrapeMetrics("/metrics", basicAuth("monty", "monty-pw")...)
	wantCount(t, e, credentials.NodeFailureBurst, "tokend_node_auth_failures_total", "reason", "invalid")
	wantCount(t, e, 100-credentials.NodeFailureBurst, "tokend_node_auth_failures_total", "reason", "rate_limited")
}

// A status call to an address a bogus join recorded carries a proof, not
// the credential, and that proof opens nothing on the real nodes.
func TestFetchStatus_BogusAddressLearnsNothingReusable(t *testing.T) {
	t.Parallel()
	leader := newLeader(t, nil)
	follower := newFollower(t, leader)
	captured := make(chan http.Header, 1)
	bogus := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		captured <- r.Header.Clone()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer bogus.Close()
	if _, err := leader.srv.cluster.Members().FetchStatus(t.Context(), "ghost", bogus.URL); err == nil {
		t.Fatal("the bogus node's 503 was taken for a status")
	}
	h := <-captured
	for k, vs := range h {
		if strings.Contains(strings.Join(vs, " "), testSecret) {
			t.Fatalf("header %s carries the node credential", k)
		}
	}
	replay := []string{headerNodeAuth, h.Get(headerNodeAuth), headerForwarded, h.Get(headerForwarded)}
	for _, n := range []*testNode{follower, leader} {
		if r := n.do("GET", statusPath, "", replay...); r.status != http.StatusUnauthorized {
			t.Errorf("the bogus node replayed its proof to %s: %d %s", n.srv.cfg.NodeID, r.status, r.body)
		}
	}
}
