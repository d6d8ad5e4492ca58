package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
)

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
	if err := s.membership.AwaitLeadership(ctx); err != nil {
		return "", fmt.Errorf("api: bootstrap: waiting for leadership: %w", err)
	}
	elastic := fsm.User{Username: reservedUsername, Hash: hash, Roles: []string{"superuser"},
		Enabled: true, Realm: fsm.ReservedRealm}
	for _, c := range []fsm.Command{
		&fsm.InitCluster{UUID: newClusterUUID()},
		&fsm.SetNode{NodeID: s.cfg.NodeID, HTTPAddr: s.cfg.HTTPAdvertise},
		&fsm.PutUser{User: elastic},
	} {
		if _, _, err := s.commits.propose(ctx, nil, c); err != nil {
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
	if err := s.membership.AwaitLeadership(ctx); err != nil {
		return false, fmt.Errorf("api: waiting for leadership: %w", err)
	}
	if err := s.reads.CatchUp(ctx); err != nil {
		return false, fmt.Errorf("api: catching up: %w", err)
	}
	_, ok := s.state.User(reservedUsername)
	return ok, nil
}

// newClusterUUID returns a random cluster UUID in Elasticsearch's format
// (22 characters of URL-safe base64).
func newClusterUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
