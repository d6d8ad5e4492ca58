package cluster

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/tokend/tokend/raftnode"
)

// Reachability probing for the "no leader" answer.
const (
	// reachProbeTimeout bounds the wait for each voter's status.
	reachProbeTimeout = 300 * time.Millisecond
	// reachCacheFor is how long a count is reused, so that a burst of
	// requests during an outage costs one round of probes.
	reachCacheFor = time.Second
	// startupGrace is how long after it started a node says only that it
	// is still reaching its peers: before its first connections and an
	// election timeout or two have passed, an unanswered probe says
	// nothing about the cluster.
	startupGrace = 3 * time.Second
)

// reachCache remembers the last count of reachable voters.
type reachCache struct {
	mu        sync.Mutex // held while probing, so concurrent callers share one round
	at        time.Time
	reachable int
	voters    int
}

// NoLeader is the error for a request that needs a leader when this node
// knows none (NoLeaderError). It tells an operator why: this node was
// removed, the voters reachable from here are too few for a quorum, or
// enough are and an election is under way. The probe behind it is bounded
// (reachProbeTimeout) and cached (reachCacheFor).
func (m *Members) NoLeader(ctx context.Context) error {
	if m.watch.removed.Load() {
		return &NoLeaderError{Removed: true}
	}
	if up := time.Since(time.Unix(0, m.started.Load())); up < startupGrace {
		return &NoLeaderError{Starting: true, Up: up}
	}
	reachable, voters := m.reachableVoters(ctx)
	return &NoLeaderError{Reachable: reachable, Voters: voters}
}

// reachableVoters counts the voters of this node's configuration and those
// whose HTTP status route answers within reachProbeTimeout (this node counts
// itself when it is a voter). The count is cached for reachCacheFor.
func (m *Members) reachableVoters(ctx context.Context) (reachable, voters int) {
	c := &m.reach
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) < reachCacheFor {
		return c.reachable, c.voters
	}
	servers, err := m.node.Servers()
	if err != nil {
		return 0, 0
	}
	voterList := slices.DeleteFunc(servers, func(srv raftnode.Server) bool { return !srv.Voter })
	reachable = len(m.Probe(ctx, voterList, reachProbeTimeout))
	c.at, c.reachable, c.voters = time.Now(), reachable, len(voterList)
	return c.reachable, c.voters
}
