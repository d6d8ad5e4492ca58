package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tokend/tokend/test/testkit"
)

// Issue 17 item 4: under --cluster-ca a join needs a certificate of the
// cluster CA on the node that receives it. Sent with superuser credentials
// but no client certificate, it is refused by the leader and by a
// follower alike, which does not forward it with its own certificate;
// read_index and wait_applied likewise.
func TestServe_NodeRoutesThroughAFollowerNeedAClusterCertificate(t *testing.T) {
	ca := testkit.NewCA(t, t.TempDir())
	mtls := []string{"--cluster-ca", ca.PEMFile}
	leader := startTLSNode(t, ca, "f1", 51, false, append(mtls, "--bootstrap")...)
	c := httpsClient(ca) // an ordinary client: no certificate
	waitReady(t, c, leader)
	follower := startTLSNode(t, ca, "f2", 52, false, append(mtls, "--join", leader.url())...)
	waitReady(t, c, follower)

	join := `{"node_id":"rogue","raft_addr":"127.0.0.1:1","http_addr":"127.0.0.1:2"}`
	for _, n := range []tlsNode{follower, leader} {
		for _, route := range []struct{ method, path, body string }{
			{http.MethodPost, "/_tokend/cluster/join", join},
			{http.MethodGet, "/_tokend/cluster/read_index", ""},
			{http.MethodGet, "/_tokend/cluster/wait_applied?index=1", ""},
		} {
			resp, body, err := call(c, route.method, n.url()+route.path, route.body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "signed by the cluster CA") {
				t.Errorf("%s %s on %s by elastic without a client certificate: %d %s", route.method, route.path, n.id,
					resp.StatusCode, body)
			}
		}
	}
	resp, body, err := call(c, http.MethodGet, leader.url()+"/_tokend/cluster/nodes", "")
	if err != nil || resp.StatusCode != http.StatusOK || strings.Contains(string(body), "rogue") {
		t.Errorf("members after the refused joins: %v %s", err, body)
	}
}
