package faults

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// verifyDeadline bounds the retries of unavailability in the final checks
// on each node.
const verifyDeadline = 30 * time.Second

// fullRestart kills every node at once, starts them all again and, once
// the cluster is healthy, checks every token the workload holds: each is
// checked on one node (the pairs are spread over the nodes, checked
// concurrently), and each refresh token whose invalidation
// answered 200 is presented again. The model then demands that every
// acknowledged pair still authenticates and every acknowledged
// invalidation still holds.
func fullRestart(c *cluster, w *workload) segment {
	c.t.Helper()
	seg := segment{name: "full restart of all nodes, then every token checked", start: w.h.Now()}
	for _, nd := range c.nodes {
		nd.kill()
	}
	for _, nd := range c.nodes {
		nd.start()
	}
	c.waitHealthy(60 * time.Second)
	w.mu.Lock()
	pairs := append([]*pair(nil), w.pairs...)
	w.mu.Unlock()
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, nd := range c.nodes {
		wg.Go(func() { errs[i] = w.checkEvery(workloadClients+i, nd, pairs, i) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			c.t.Fatal(err)
		}
	}
	for _, p := range pairs {
		if p.refreshRevokedOK {
			nd := c.nodes[(p.id+1)%len(c.nodes)]
			w.refreshUntil(workloadClients, nd, p, time.Now().Add(verifyDeadline))
		}
	}
	seg.faults = []string{fmt.Sprintf("SIGKILL %s at once, restart all; check %d token pairs", strings.Join(ids(c.nodes), ", "), len(pairs))}
	seg.end = w.h.Now()
	return seg
}

// checkEvery checks, on nd, the access token of every pair whose number
// is part modulo the node count, repeating each check while it is
// unavailable, within verifyDeadline.
func (w *workload) checkEvery(client int, nd *node, pairs []*pair, part int) error {
	deadline := time.Now().Add(verifyDeadline)
	for _, p := range pairs {
		if p.id%len(w.c.nodes) != part {
			continue
		}
		for {
			op := w.authenticate(client, nd, p)
			if op.Outcome != Unavailable {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("token checks on %s still unavailable (HTTP %d) after %v", nd.id, op.Status, verifyDeadline)
			}
			<-time.After(20 * time.Millisecond)
		}
	}
	return nil
}
