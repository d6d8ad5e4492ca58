package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/test/testkit"
)

// TestAttack_ConcurrentGuessesRunAtMostTheBurst is issue 17's item 3 on a
// real process: 200 concurrent wrong passwords for one username through
// one node get at most the documented burst of real password checks (401);
// every other one is refused before any check (429).
func TestAttack_ConcurrentGuessesRunAtMostTheBurst(t *testing.T) {
	nodes := startCluster(t, 1)
	n := nodes[0]
	admin := testkit.Basic("elastic", superPassword)
	if r := do(t, n, "PUT", "/_security/user/victim", `{"password":"victim-password","roles":[]}`, admin); r.Status != 200 {
		t.Fatalf("create victim: %d %s", r.Status, r.Body)
	}
	const guesses = 200
	start := time.Now()
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			r, err := testkit.TryDo(n.URL(), "GET", "/_security/_authenticate", "", testkit.Basic("victim", fmt.Sprintf("guess-%03d", i)))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes[0]++
				return
			}
			codes[r.Status]++
		})
	}
	wg.Wait()
	// One failure of budget comes back every UserFailureEvery: on a busy
	// machine the comparisons may outlast one.
	most := credentials.UserFailureBurst + int(time.Since(start)/credentials.UserFailureEvery)
	if codes[401] > most || codes[401]+codes[429] != guesses {
		t.Fatalf("%d concurrent wrong passwords: %v; want at most %d × 401 and the rest 429", guesses, codes, most)
	}
	t.Logf("%d concurrent wrong passwords: %v", guesses, codes)
}

// TestAttack_JoinThroughAFollowerNeedsAClusterCertificate is issue 17's item
// 4 on real processes: under --cluster-ca, a superuser's join without a
// client certificate is refused by a follower as by the leader, and the
// rogue node is never added.
func TestAttack_JoinThroughAFollowerNeedsAClusterCertificate(t *testing.T) {
	dir := t.TempDir()
	files := newTLSFiles(t, dir)
	tlsArgs := []string{"--tls-cert", files.certFile, "--tls-key", files.keyFile, "--cluster-ca", files.caFile}
	n1 := newProc(t, "node1", append([]string{"--bootstrap"}, tlsArgs...)...)
	n1.start()
	trusted := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: files.roots, MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{files.nodeClient}}}}
	anonymous := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: files.roots, MinVersion: tls.VersionTLS12}}}
	waitTLSReady(t, trusted, n1)
	n2 := newProc(t, "node2", append([]string{"--join", "https://" + n1.httpAddr}, tlsArgs...)...)
	n2.start()
	waitTLSReady(t, trusted, n2)
	admin := testkit.Basic("elastic", superPassword)
	body := `{"node_id":"rogue","raft_addr":"127.0.0.1:1","http_addr":"127.0.0.1:2"}`
	for _, p := range []*proc{n2, n1} {
		r, err := testkit.TryDoWith(anonymous, "https://"+p.httpAddr, "POST", "/_tokend/cluster/join", body, admin)
		if err != nil {
			t.Fatalf("join through %s: %v", p.id, err)
		}
		if r.Status != 403 {
			t.Fatalf("a superuser's join without a cluster certificate through %s: %d %s", p.id, r.Status, r.Body)
		}
	}
	r, err := testkit.TryDoWith(trusted, "https://"+n2.httpAddr, "GET", "/_tokend/cluster/nodes", "", admin)
	if err != nil || r.Status != 200 {
		t.Fatalf("nodes: %v %d", err, r.Status)
	}
	var cn struct {
		Nodes []struct {
			ID string `json:"id"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(r.Body, &cn); err != nil || len(cn.Nodes) != 2 || strings.Contains(string(r.Body), "rogue") {
		t.Fatalf("members after the refused joins: %s", r.Body)
	}
}

// waitTLSReady polls p's readiness over https.
func waitTLSReady(t *testing.T, client *http.Client, p *proc) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, p.id+" ready over https", func() error {
		if p.exited() {
			t.Fatalf("%s exited: %v\n%s", p.id, p.exitErr, p.out.String())
		}
		r, err := testkit.TryDoWith(client, "https://"+p.httpAddr, "GET", "/_tokend/readyz", "", nil)
		if err != nil {
			return err
		}
		if r.Status != 200 {
			return fmt.Errorf("readyz %d", r.Status)
		}
		return nil
	})
}
