package api

import (
	"context"
	"fmt"
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

// noLeaderError is the 503 for a request that needs a leader when this node
// knows none. Its reason tells an operator why: this node was removed, the
// voters reachable from here are too few for a quorum ("no leader: quorum
// lost, 1 of 3 voters reachable"), or enough are and an election is under
// way. Clients retry it (Retry-After) on another node.
func (s *Server) noLeaderError(ctx context.Context) error {
	if s.watch.removed.Load() {
		return unavailable("master_not_discovered_exception", removedReason)
	}
	if up := time.Since(time.Unix(0, s.started.Load())); up < startupGrace {
		return unavailable("master_not_discovered_exception", fmt.Sprintf(
			"no leader is elected yet: this node started %s ago and is still reaching its peers", up.Round(time.Millisecond)))
	}
	reachable, voters := s.reachableVoters(ctx)
	reason := "no leader is elected"
	switch {
	case voters == 0:
	case reachable <= voters/2:
		reason = fmt.Sprintf("no leader: quorum lost, %d of %d voters reachable", reachable, voters)
	default:
		reason = fmt.Sprintf("no leader is elected yet (%d of %d voters reachable); an election is under way", reachable, voters)
	}
	return unavailable("master_not_discovered_exception", reason)
}

// reachableVoters counts the voters of this node's configuration and those
// whose HTTP status route answers within reachProbeTimeout (this node counts
// itself when it is a voter). The count is cached for reachCacheFor.
func (s *Server) reachableVoters(ctx context.Context) (reachable, voters int) {
	c := &s.reach
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) < reachCacheFor {
		return c.reachable, c.voters
	}
	servers, err := s.node.Servers()
	if err != nil {
		return 0, 0
	}
	voterList := slices.DeleteFunc(servers, func(srv raftnode.Server) bool { return !srv.Voter })
	reachable = len(s.probeMembers(ctx, voterList, reachProbeTimeout))
	c.at, c.reachable, c.voters = time.Now(), reachable, len(voterList)
	return c.reachable, c.voters
}
