package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
	es8 "github.com/elastic/go-elasticsearch/v8"

	"github.com/tokend/tokend/test/testkit"
)

// hostRecorder is an http.RoundTripper that counts the requests sent to
// each host.
type hostRecorder struct {
	mu    sync.Mutex
	hosts map[string]int
}

// RoundTrip records req's host and sends it.
func (h *hostRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts[req.URL.Host]++
	h.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// counts is a copy of the requests sent per host.
func (h *hostRecorder) counts() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.hosts)
}

// TestSniff_GoClientDiscoversEveryNodeAndOutlivesItsSeed starts the
// official Go client with one node's address and DiscoverNodesOnStart, as
// Elasticsearch users spread a client over a cluster: it must learn all
// three nodes from /_nodes/http, send its requests to each of them, and
// keep working when the node it was given is gone. The client retries 503
// (a node without a leader) with a backoff, as docs/operations.md advises.
func TestSniff_GoClientDiscoversEveryNodeAndOutlivesItsSeed(t *testing.T) {
	nodes := startCluster(t, 3)
	seed := nodes[1]
	rec := &hostRecorder{hosts: map[string]int{}}
	es, err := es8.NewTypedClient(es8.Config{Addresses: []string{seed.URL()}, Username: "elastic",
		Password: superPassword, DiscoverNodesOnStart: true, Transport: rec,
		MaxRetries: 10, RetryBackoff: func(n int) time.Duration { return time.Duration(n) * 200 * time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	tp, ok := es.Transport.(*elastictransport.Client)
	if !ok {
		t.Fatalf("transport is %T, not *elastictransport.Client", es.Transport)
	}
	var want []string
	for _, p := range nodes {
		want = append(want, p.URL())
	}
	slices.Sort(want)
	testkit.Eventually(t, 30*time.Second, "the client discovers every node", func() error {
		var got []string
		for _, u := range tp.URLs() {
			got = append(got, u.String())
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return fmt.Errorf("client knows %v, want %v", got, want)
		}
		return nil
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	served := map[string]bool{}
	for range 2 * len(nodes) {
		info, err := es.Info().Do(ctx)
		if err != nil {
			t.Fatalf("Info after discovery: %v", err)
		}
		served[info.Name] = true
	}
	sent := rec.counts()
	for _, p := range nodes {
		if !served[p.id] || sent[p.httpAddr] == 0 {
			t.Fatalf("%s served none of the requests: served by %v, sent to %v", p.id, served, sent)
		}
	}

	seed.kill()
	for range 2 * len(nodes) {
		who, err := es.Security.Authenticate().Do(ctx)
		if err != nil || who.Username != "elastic" {
			t.Fatalf("Authenticate with the seed node gone: %v %+v", err, who)
		}
	}
}
