package cluster

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tokend/tokend/raftnode/lease"
)

// replicaRetry is the pause between two attempts to confirm a replica.
const replicaRetry = 50 * time.Millisecond

// Revocations makes a revocation (an invalidation, a disabled or deleted
// user, a changed password, a refresh replay, a restore) hold on every node
// before the leader answers it, so that once it has answered 200 no node
// accepts what it revoked (SPEC §4) while token checks stay local reads.
type Revocations struct {
	cfg   Config
	node  Node
	log   *slog.Logger
	peers *peers
	reads *Reads // this node's lease and the leader's ledger of grants
}

// Await returns once the entry at index, committed and applied here, holds
// on every node that may answer reads: call it for a new revocation and a
// repeated one alike. It waits for the members that may hold a read lease
// missing index (lease.Table.Holders: grants recorded up to now, and every
// member while a new leader's take-over time lasts), each until it
// confirms (awaitReplica) or its lease has run out. A member that holds no
// such lease costs nothing; creations need none of this: a node that does
// not find a token or user catches up first (Reads.CatchUp).
func (v *Revocations) Await(ctx context.Context, index uint64) {
	grants := v.reads.grants
	at := grants.Now()
	servers, err := v.node.Servers()
	if err != nil {
		return // shutting down: nothing more is served here
	}
	term := v.node.Term()
	grants.Lead(term, v.reads.lease.previousLeader(term))
	members := make([]string, 0, len(servers))
	for _, srv := range servers {
		members = append(members, srv.ID)
	}
	var wg sync.WaitGroup
	for _, h := range grants.Holders(at, v.cfg.NodeID, members) {
		wg.Go(func() { v.awaitReplica(ctx, h, index) })
	}
	wg.Wait()
}

// LeaseOf reports, on the leader, whether member holds a read lease it
// granted, and how long the latest one has left: what revocations wait for.
func (v *Revocations) LeaseOf(member string) (time.Duration, bool) {
	return v.reads.grants.Held(member)
}

// awaitReplica asks holder h, until its lease runs out, to confirm index:
// to have applied it, or to have raised its fence to it (readLease.fence),
// after which it answers no read before applying it. Nothing else ends the
// wait early: a refused connection or an error says nothing about what the
// member may still answer from its state.
func (v *Revocations) awaitReplica(ctx context.Context, h lease.Hold, index uint64) {
	ctx, cancel := context.WithTimeout(ctx, h.Left)
	defer cancel()
	for {
		err := v.peers.askApplied(ctx, h.Member, index)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			v.log.Warn("replica did not confirm a revocation before its read lease ran out", "node", h.Member, "index", index, "err", err)
			return
		case <-time.After(replicaRetry):
		}
	}
}
