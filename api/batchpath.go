package api

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// batchPath records how a follower's token creations reach the leader: in
// batches (proposePath), or one request at a time (the grant forwarded
// whole), which remains only for a leader of an older build without
// proposePath during a rolling upgrade, and for a node that cannot prove
// it is one. Each fallback is logged once.
type batchPath struct {
	batches   prometheus.Counter // batches a follower posted to the leader
	unbatched prometheus.Counter // grants a follower forwarded whole

	// legacyLeader is the ID of a leader that answered a batch 404 (an
	// older build): grants go to it whole until another leader is elected.
	legacyLeader atomic.Pointer[string]
	warnLegacy   sync.Once
	warnNoProof  sync.Once
}

func newBatchPath(reg prometheus.Registerer) *batchPath {
	auto := promauto.With(reg)
	return &batchPath{
		batches: auto.NewCounter(prometheus.CounterOpts{Name: "tokend_token_batches_forwarded_total",
			Help: "Batches of token creations this follower posted to the leader's propose route."}),
		unbatched: auto.NewCounter(prometheus.CounterOpts{Name: "tokend_token_grants_unbatched_total",
			Help: "Token grants this follower forwarded whole to the leader, unbatched (an older leader, or no node credential)."}),
	}
}

// batchesForwardable reports whether this node can send batches to the
// leader: the leader accepts them only from a node that proves it is one,
// with the node credential or a cluster certificate, and only if its build
// has the propose route.
func (s *Server) batchesForwardable() bool {
	if !s.canProveNode() {
		s.batching.warnNoProof.Do(func() {
			s.log.Warn("this node cannot prove it is a node (no node credential, no cluster certificate): " +
				"grants received here are forwarded to the leader one by one, unbatched")
		})
		return false
	}
	legacy := s.batching.legacyLeader.Load()
	if legacy == nil {
		return true
	}
	leader, _ := s.node.Leader()
	return leader != *legacy
}

// noteLegacyLeader records that leaderID answered a batch with status: a
// 404 or 405 means a build without proposePath, whose grants then go to it
// whole. It reports whether it was such an answer.
func (s *Server) noteLegacyLeader(leaderID string, status int) bool {
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		return false
	}
	s.batching.legacyLeader.Store(&leaderID)
	s.batching.warnLegacy.Do(func() {
		s.log.Warn("the leader has no batch route (an older build, during a rolling upgrade): "+
			"grants are forwarded to it one by one until a leader of this build is elected", "leader", leaderID)
	})
	return true
}
