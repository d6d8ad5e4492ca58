package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/raftnode/cluster"
	"github.com/tokend/tokend/raftnode/peerauth"
)

const joinCredential = "join-answer-credential-8f3a61"

// The join answer hands the cluster's node credential to a joiner that
// authenticated (node secret or superuser), and to nobody else: refusals
// carry nothing of it.
func TestJoin_AnswerCarriesTheCredentialOnlyToAnAuthenticatedJoiner(t *testing.T) {
	t.Parallel()
	n := newLeader(t, func(c *Config) { c.Credential = peerauth.NewCredential([]byte(joinCredential)) })
	body := `{"node_id":"n2","raft_addr":"10.0.0.2:9300","http_addr":"10.0.0.2:9200"}`
	for name, hdr := range map[string][]string{
		"node proof": {headerNodeAuth, peerauth.Sign([]byte(joinCredential), peerauth.Request{Method: "POST",
			Target: "/_tokend/cluster/join", BodyDigest: peerauth.BodyDigest([]byte(body))}, time.Now())},
		"superuser": basicAuth("elastic", "elastic-pw"),
	} {
		r := n.do("POST", "/_tokend/cluster/join", body, hdr...).want(t, 200)
		if got := r.json(t)["node_credential"]; got != joinCredential {
			t.Errorf("%s: join answer %s, want the node credential", name, r.body)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q", name, cc)
		}
	}
	for name, c := range map[string]struct {
		hdr    []string
		status int
	}{
		"no credentials":     {nil, 401},
		"wrong node secret":  {[]string{headerNodeSecret, "wrong"}, 401},
		"not a superuser":    {basicAuth("alice", "alice-pw"), 403},
		"wrong password":     {basicAuth("elastic", "nope-nope"), 401},
		"invalid join (400)": {basicAuth("elastic", "elastic-pw"), 400},
	} {
		b := body
		if c.status == 400 {
			b = `{"node_id":"n3"}`
		}
		r := n.do("POST", "/_tokend/cluster/join", b, c.hdr...).want(t, c.status)
		if strings.Contains(string(r.body), joinCredential) || strings.Contains(string(r.body), "node_credential") {
			t.Errorf("%s: refusal carries the credential: %s", name, r.body)
		}
	}
}

// JoinTLS returns the answer's credential and the URL that gave it.
func TestJoinClient_ReturnsTheNodeCredential(t *testing.T) {
	t.Parallel()
	n := newLeader(t, func(c *Config) { c.Credential = peerauth.NewCredential([]byte(joinCredential)) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := cluster.JoinTLS(ctx, nil, []string{n.ts.URL}, cluster.JoinRequest{NodeID: "n2", RaftAddr: "h2:9300", HTTPAddr: "h2:9200"},
		"", "elastic", "elastic-pw")
	if err != nil {
		t.Fatal(err)
	}
	if a.NodeCredential != joinCredential || !a.Acknowledged || !strings.HasPrefix(a.URL, n.ts.URL) {
		t.Fatalf("answer %+v", a)
	}
}
