package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/tokend/tokend/raftnode/cluster"
)

// markReplica records a read replica's mark before it joins
// (membership.MarkReplica), reporting on w the index of the entry that
// recorded it, for a forwarding follower to wait for.
func (s *peerRoutes) markReplica(ctx context.Context, w http.ResponseWriter, q cluster.JoinRequest) error {
	index, err := s.membership.MarkReplica(ctx, q)
	if index != 0 {
		w.Header().Set(headerAppliedIndex, strconv.FormatUint(index, 10))
	}
	return err
}

// fillLagAndLease completes n with its lag behind the leader's applied
// index and its read lease: the leader answers from its ledger of grants
// (the lease revocations wait for), any other node with what the member
// reported of itself.
func (s *clusterRoutes) fillLagAndLease(n *NodeStatus, statuses map[string]cluster.Status, leaderID string) {
	if ld, ok := statuses[leaderID]; ok && n.AppliedIndex != nil {
		lag := ld.AppliedIndex - min(*n.AppliedIndex, ld.AppliedIndex)
		n.LagEntries = &lag
	}
	if s.node.IsLeader() && n.ID != s.cfg.NodeID {
		left, held := s.revocations.LeaseOf(n.ID)
		ms := left.Milliseconds()
		n.LeaseHeld, n.LeaseLeftMillis = &held, &ms
		return
	}
	if st, ok := statuses[n.ID]; ok {
		held, ms := st.LeaseHeld, st.LeaseLeftMillis
		n.LeaseHeld, n.LeaseLeftMillis = &held, &ms
	}
}
