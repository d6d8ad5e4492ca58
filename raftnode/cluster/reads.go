package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/tokend/tokend/fsm"
)

// Reads decides when this node may answer reads from its own state, and
// makes it catch up with the leader when it may not: a node answers from
// its state only under a read lease (readLease) that the leader granted and
// recorded (ServeReadIndex), and only once it has applied every revocation
// it was fenced for (WaitApplied).
type Reads struct {
	cfg     Config
	node    Node
	state   *fsm.FSM
	log     *slog.Logger
	leaders *leaders
	members *Members
	lease   readLease   // this node's permission to serve reads locally
	grants  leaseLedger // the leader's record of the read leases it granted
}

// CheckFresh refuses to answer reads from this node's own state when it has
// no leader (NoLeaderError), has not heard from it for maxStaleness
// (ErrLostContact), or holds no read lease and cannot renew one now, or has
// not applied a revocation it was fenced for (FenceError) (SPEC §4): such a
// node could accept a token the leader has already invalidated. The leader
// needs a lease too: one that was paused or cut off may not know yet that
// another has replaced it. See readLease.
func (r *Reads) CheckFresh(ctx context.Context) error {
	if r.node.IsLeader() {
		return r.renewLease(ctx)
	}
	if leaderID, _ := r.node.Leader(); leaderID == "" {
		// The reachability probe behind the reason is bounded and cached.
		return r.members.NoLeader(context.Background())
	}
	if last := r.node.LastContact(); last.IsZero() || time.Since(last) > maxStaleness {
		return ErrLostContact
	}
	return r.renewLease(ctx)
}

// CatchUp returns once the local state has applied the leader's commit
// index as of a moment after the call, so that anything the cluster
// answered 200 for before this call is visible here (see catchUpOnce).
// Concurrent calls share a round trip (catchUpFlights).
func (r *Reads) CatchUp(ctx context.Context) error {
	g := &r.lease.flights
	g.mu.Lock()
	f := g.next
	if f == nil {
		f = &catchUpFlight{done: make(chan struct{})}
		g.next = f
	} else {
		g.joined.Add(1)
	}
	r.startCatchUpLocked()
	g.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return FromNode(fmt.Errorf("cluster: catching up with the leader: %w", ctx.Err()))
	}
}

// ServeReadIndex is the leader's side of a catch-up: it confirms its
// leadership with a quorum and returns the commit index, applied here,
// that the asking node must apply before it answers a read it could not
// answer, or to renew its read lease. member, when not "", is the node
// that asked: its lease is recorded before the index is computed, so a
// revocation committed since is in the index, and one committed before
// waits for this grant (Revocations.Await). Only a member may be given
// one: the caller checks.
func (r *Reads) ServeReadIndex(ctx context.Context, member string) (uint64, error) {
	if member != "" {
		r.grants.Grant(member, r.node.Stats().Term)
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	index, err := r.node.ReadIndex(ctx)
	return index, FromNode(err)
}

// WaitApplied returns once this node has applied index, or fails when ctx
// ends first. With fence it returns at once, fenced, when index is not
// applied yet, having raised this node's fence to it: from then on it
// answers no read before applying index (CheckFresh). That is the leader's
// question to a lease holder before it answers a revocation.
func (r *Reads) WaitApplied(ctx context.Context, index uint64, fence bool) (fenced bool, err error) {
	if fence && r.state.AppliedIndex() < index {
		r.lease.raiseFence(index)
		return true, nil
	}
	return false, FromNode(r.node.WaitApplied(ctx, index))
}

// renewLease makes sure this node holds a read lease, catching up with the
// leader if it does not, and has applied every revocation it was fenced
// for.
func (r *Reads) renewLease(ctx context.Context) error {
	var leaderTerm uint64
	if r.node.IsLeader() {
		leaderTerm = r.node.Term()
	}
	if !r.lease.valid(time.Now(), leaderTerm) {
		if err := r.CatchUp(ctx); err != nil {
			return err
		}
	}
	if !r.lease.used.Load() {
		r.lease.used.Store(true)
	}
	fence := r.lease.fence.Load()
	if fence <= r.state.AppliedIndex() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, fenceWait)
	defer cancel()
	if err := r.node.WaitApplied(ctx, fence); err != nil {
		return &FenceError{Index: fence}
	}
	return nil
}

// keep renews this node's read lease while a leader is known, until ctx
// ends: every leaderLeaseRenewEvery on the leader while reads use it, every
// leaseRenewEvery elsewhere. Failures are left to the next round and to
// CheckFresh, which refuses reads once the lease has run out. On the
// leader it also tells the ledger the term and the previous leader, so
// that a new leader's take-over time starts within a round; elsewhere it
// notes the leader it sees, the previous one should this node lead next.
func (r *Reads) keep(ctx context.Context) {
	tick := time.NewTicker(leaderLeaseRenewEvery)
	defer tick.Stop()
	var tried time.Time // a follower's last attempt: at most one a leaseRenewEvery, failed or not
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st := r.node.Stats()
		switch {
		case st.LeaderID == "":
			continue
		case st.LeaderID == r.cfg.NodeID:
			r.grants.Lead(st.Term, r.lease.previousLeader(st.Term))
			if !r.lease.used.Swap(false) {
				continue // idle: the next read renews it on demand
			}
		default:
			r.lease.sawLeader(st.LeaderID, st.Term)
			if r.lease.age(time.Now()) < leaseRenewEvery || time.Since(tried) < leaseRenewEvery {
				continue
			}
			tried = time.Now()
		}
		rctx, cancel := context.WithTimeout(ctx, leaseRenewEvery)
		if err := r.CatchUp(rctx); err != nil {
			r.log.Debug("read lease not renewed", "err", err)
		}
		cancel()
	}
}

// startCatchUpLocked starts the waiting catch-up, if any, unless one with
// the current leader is under way (its end starts the next). The caller
// holds flights.mu.
func (r *Reads) startCatchUpLocked() {
	g := &r.lease.flights
	leader, _ := r.node.Leader()
	if g.next == nil || g.running[leader] > 0 {
		return
	}
	if g.running == nil {
		g.running = map[string]int{}
	}
	f := g.next
	g.next = nil
	g.running[leader]++
	go func() {
		f.err = r.catchUpOnce(context.Background())
		close(f.done)
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.running[leader]--; g.running[leader] == 0 {
			delete(g.running, leader)
		}
		r.startCatchUpLocked()
	}()
}

// catchUpOnce returns once the local state has applied the leader's commit
// index as of now, so that anything the cluster answered 200 for before this
// call is visible here. On the leader that is ReadIndex (a quorum confirms
// its leadership); a follower asks the leader for its read index over HTTP
// and waits to apply it. Either renews the node's read lease, counted from
// before the request was sent. An unreachable leader is an error, never a
// guess. Callers use CatchUp, which shares one among them.
func (r *Reads) catchUpOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	started := time.Now()
	if r.node.IsLeader() {
		term := r.node.Term()
		if _, err := r.node.ReadIndex(ctx); err != nil {
			return FromNode(err)
		}
		r.lease.renewedAt(started, leaderHolderLease, term)
		return nil
	}
	index, err := r.leaderReadIndex(ctx)
	if err != nil {
		return err
	}
	if err := r.node.WaitApplied(ctx, index); err != nil {
		return FromNode(err)
	}
	r.lease.renewedAt(started, holderLease, 0)
	return nil
}

// leaderReadIndex asks the leader for its read index (PathReadIndex), as a
// node.
func (r *Reads) leaderReadIndex(ctx context.Context) (uint64, error) {
	l := r.leaders
	leaderID, base, err := l.awaitBase(ctx)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+PathReadIndex, nil)
	if err != nil {
		return 0, err
	}
	l.peers.sign(req, leaderID, "", nil, false)
	resp, err := l.peers.client.Do(req)
	if err != nil {
		return 0, l.unreachable(leaderID, err)
	}
	defer resp.Body.Close()
	var v struct {
		Index uint64 `json:"index"`
	}
	if resp.StatusCode != http.StatusOK {
		return 0, l.unreachable(leaderID, fmt.Errorf("read_index answered %d", resp.StatusCode))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&v); err != nil {
		return 0, l.unreachable(leaderID, err)
	}
	return v.Index, nil
}
