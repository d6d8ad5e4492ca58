package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
)

// leaderPoll is how often housekeeping checks leadership.
const leaderPoll = time.Second

// RunHousekeeping does the node's periodic work until ctx ends, checking
// every second. On every node it makes sure the cluster has this node's
// current addresses (announce), samples the other voters' clocks
// (sampleClocks) and, while no leader is in contact, whether
// the cluster removed this node (checkRemoved); a follower also renews its
// read lease every second (keepLease). While this node is the
// leader it records its own HTTP address (right after winning an election
// too), promotes non-voters that have caught up (promoteCaughtUp) and
// proposes a Purge of expired records every Config.PurgeInterval. Failures
// are logged and retried on the next round; every step is bounded in time.
func (s *Server) RunHousekeeping(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.keepLease(ctx)
	}()
	s.housekeep(ctx, leaderPoll, s.cfg.PurgeInterval)
	<-done
}

// housekeep is RunHousekeeping with its intervals as parameters, for tests.
func (s *Server) housekeep(ctx context.Context, poll, purgeEvery time.Duration) {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	var lastPurge time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.announce(ctx)
		s.sampleClocks(ctx)
		if !s.node.IsLeader() {
			lastPurge = time.Time{}
			s.checkRemoved(ctx)
			continue
		}
		s.watch.removed.Store(false)
		if err := s.registerSelf(ctx); err != nil {
			s.log.Warn("cannot record this node's HTTP address", "err", err)
		}
		s.promoteCaughtUp(ctx)
		s.warnEvenVoters()
		if lastPurge.IsZero() {
			lastPurge = time.Now() // first purge one interval after winning
		} else if time.Since(lastPurge) >= purgeEvery {
			lastPurge = time.Now()
			if res, _, err := s.propose(ctx, nil, &fsm.Purge{}); err != nil {
				s.log.Warn("purge failed", "err", err)
			} else if res.Purged > 0 {
				s.log.Info("purged expired records", "count", res.Purged)
			}
		}
	}
}

// registerSelf records this node's HTTP address if the state lacks it.
func (s *Server) registerSelf(ctx context.Context) error {
	if addr, ok := s.state.NodeAddr(s.cfg.NodeID); ok && addr == s.cfg.HTTPAdvertise {
		return nil
	}
	_, _, err := s.propose(ctx, nil, &fsm.SetNode{NodeID: s.cfg.NodeID, HTTPAddr: s.cfg.HTTPAdvertise})
	return err
}

// Bootstrap initialises a cluster this node has just bootstrapped: once it is
// the leader, it records the cluster UUID and its own HTTP address, and
// creates the built-in elastic superuser with elasticPassword. If that is
// empty, it generates a random password and returns it, so that the caller
// can print it once; the password is never logged.
func (s *Server) Bootstrap(ctx context.Context, elasticPassword string) (generated string, err error) {
	if elasticPassword == "" {
		generated = rand.Text() // 26 characters, 128 bits
		elasticPassword = generated
	}
	if msg := passwordProblem(elasticPassword); msg != "" {
		return "", fmt.Errorf("api: bootstrap: the elastic password is unusable: %s", msg)
	}
	hash, err := credentials.HashPassword(elasticPassword)
	if err != nil {
		return "", fmt.Errorf("api: bootstrap: hashing the elastic password: %w", err)
	}
	if err := s.waitLeader(ctx); err != nil {
		return "", fmt.Errorf("api: bootstrap: waiting for leadership: %w", err)
	}
	elastic := fsm.User{Username: reservedUsername, Hash: hash, Roles: []string{"superuser"},
		Enabled: true, Realm: fsm.ReservedRealm}
	for _, c := range []fsm.Command{
		&fsm.InitCluster{UUID: newClusterUUID()},
		&fsm.SetNode{NodeID: s.cfg.NodeID, HTTPAddr: s.cfg.HTTPAdvertise},
		&fsm.PutUser{User: elastic},
	} {
		if _, _, err := s.propose(ctx, nil, c); err != nil {
			return "", fmt.Errorf("api: bootstrap: proposing %T: %w", c, err)
		}
	}
	s.log.Info("cluster initialised", "cluster_uuid", s.state.ClusterUUID())
	return generated, nil
}

// Initialised reports whether the cluster's initialisation (Bootstrap) has
// completed. It waits until this node leads and has applied everything
// committed, then looks for the elastic user: a node that bootstrapped Raft
// and died before Bootstrap finished finds none when it restarts.
func (s *Server) Initialised(ctx context.Context) (bool, error) {
	if err := s.waitLeader(ctx); err != nil {
		return false, fmt.Errorf("api: waiting for leadership: %w", err)
	}
	if _, err := s.node.ReadIndex(ctx); err != nil {
		return false, fmt.Errorf("api: catching up: %w", err)
	}
	_, ok := s.state.User(reservedUsername)
	return ok, nil
}

// waitLeader polls until this node is the leader or ctx ends.
func (s *Server) waitLeader(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !s.node.IsLeader() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// newClusterUUID returns a random cluster UUID in Elasticsearch's format
// (22 characters of URL-safe base64).
func newClusterUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
