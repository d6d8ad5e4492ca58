package main

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/raftnode/cluster"

	"github.com/tokend/tokend/test/testkit"
)

// A cluster whose nodes use mutual TLS (--cluster-ca) forms, forwards
// writes and serves clients without client certificates, while requests
// that act as a node are refused without a certificate of the cluster CA.
func TestServe_MutualTLSClusterAdmitsOnlyCertifiedNodes(t *testing.T) {
	dir := t.TempDir()
	ca := testkit.NewCA(t, dir)
	mtls := []string{"--cluster-ca", ca.PEMFile}
	nodes := []tlsNode{startTLSNode(t, ca, "m1", 31, false, append(mtls, "--bootstrap")...)}
	c := httpsClient(ca) // an ordinary client: no certificate
	waitReady(t, c, nodes[0])
	for i, id := range []string{"m2", "m3"} {
		nodes = append(nodes, startTLSNode(t, ca, id, int64(32+i), false, append(mtls, "--join", nodes[0].url())...))
	}
	for _, n := range nodes[1:] {
		waitReady(t, c, n)
	}

	forwarded := false
	for _, n := range nodes {
		// A follower's grant is committed by the leader, its refresh served
		// there: both cross mutual TLS.
		_, refresh := grantToken(t, c, n.url())
		servedBy := refreshOn(t, c, n.url(), refresh)
		forwarded = forwarded || (servedBy != "" && servedBy != n.id)
	}
	if !forwarded {
		t.Error("no follower forwarded its refresh to the leader over mutual TLS")
	}

	leader := nodes[0]
	outsider := []struct {
		name, method, path, body string
		header                   map[string]string
	}{
		{"join with superuser credentials and the node secret", http.MethodPost, "/_tokend/cluster/join",
			`{"node_id":"rogue","raft_addr":"127.0.0.1:1","http_addr":"127.0.0.1:2"}`,
			map[string]string{"X-Tokend-Node-Secret": "tls-test-node-secret"}},
		{"a forwarded write", http.MethodPost, "/_security/oauth2/token", `{"grant_type":"client_credentials"}`,
			map[string]string{"X-Tokend-Forwarded": "m2"}},
		{"a claimed client address", http.MethodPost, "/_security/oauth2/token", `{"grant_type":"client_credentials"}`,
			map[string]string{"X-Tokend-Client-Addr": "10.9.9.9;00"}},
	}
	for _, o := range outsider {
		req, _ := http.NewRequest(o.method, leader.url()+o.path, strings.NewReader(o.body))
		req.SetBasicAuth("elastic", tlsTestPassword)
		req.Header.Set("Content-Type", "application/json")
		for k, v := range o.header {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "security_exception") ||
			!strings.Contains(body, "signed by the cluster CA") {
			t.Errorf("%s without a cluster certificate: %d %s", o.name, resp.StatusCode, body)
		}
	}

	// A certificate from another CA is refused at the handshake.
	rogue := testkit.NewCA(t, t.TempDir())
	rc := httpsClient(ca, rogue.ClientPair(t, t.TempDir()))
	if _, _, err := call(rc, http.MethodGet, leader.url()+"/", ""); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
	// The cluster's own certificate is accepted for node routes.
	nc := httpsClient(ca, ca.ClientPair(t, t.TempDir()))
	if resp, body, err := call(nc, http.MethodGet, leader.url()+"/_tokend/cluster/status", ""); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("status with a cluster certificate: %v %v %s", err, resp, body)
	}
}

// A node whose certificate the cluster CA did not sign, or that has none,
// cannot join: its join request is refused and the members are unchanged.
func TestServe_NodeWithoutAClusterCertificateCannotJoin(t *testing.T) {
	dir := t.TempDir()
	ca := testkit.NewCA(t, dir)
	n1 := startTLSNode(t, ca, "j1", 41, false, "--cluster-ca", ca.PEMFile, "--bootstrap")
	waitReady(t, httpsClient(ca), n1)

	rogue := testkit.NewCA(t, t.TempDir())
	attempts := map[string]*tls.Config{
		"no client certificate":       {RootCAs: ca.Pool},
		"a certificate of another CA": {RootCAs: ca.Pool, Certificates: []tls.Certificate{rogue.ClientPair(t, t.TempDir())}},
	}
	req := cluster.JoinRequest{NodeID: "rogue", RaftAddr: testkit.FreeAddr(t), HTTPAddr: testkit.FreeAddr(t)}
	for name, cfg := range attempts {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := cluster.JoinTLS(ctx, cfg, []string{n1.url()}, req, "tls-test-node-secret", "elastic", tlsTestPassword)
		cancel()
		if err == nil {
			t.Errorf("%s: the join was accepted", name)
		}
	}
	resp, body, err := call(httpsClient(ca), http.MethodGet, n1.url()+"/_tokend/cluster/nodes", "")
	if err != nil || resp.StatusCode != http.StatusOK || strings.Contains(string(body), "rogue") {
		t.Errorf("members after the refused joins: %v %s", err, body)
	}
}

// readAll returns resp's body as a string and closes it.
func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
