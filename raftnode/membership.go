package raftnode

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Membership changes are tried this many times when Raft refuses them for a
// reason that a fresh look at the configuration can cure (see refusal).
const (
	changeAttempts = 3
	changeBackoff  = 50 * time.Millisecond
)

// Server is one member of the Raft configuration.
type Server struct {
	ID      string
	Address string // Raft address
	Voter   bool
	Leader  bool // as this node currently believes
}

// Join admits the server id at raftAddr. Leader only (ErrNotLeader or
// ErrNoLeader elsewhere: forward to the leader). A server new to the
// configuration is added as a NON-VOTER: it receives the log but neither
// votes nor counts towards quorum until Promote makes it a voter once it has
// caught up, so a blank node never decides an election or a commit.
//
// Join is idempotent and safe to retry: the same id and address again is a
// no-op, whatever the server's suffrage (a voter that re-joins stays a
// voter). The same id at a new address is re-addressed in place, keeping its
// suffrage (one configuration entry, no window with a voter missing); this
// works for the leader itself too. Another server registered at raftAddr is
// removed first (a dead node whose address was reused), unless it is the
// leader itself. It returns once the change is committed, or with
// ErrIndeterminate if leadership was lost or the deadline passed meanwhile.
func (n *Node) Join(ctx context.Context, id, raftAddr string) error {
	if id == "" || raftAddr == "" {
		return fmt.Errorf("raftnode: join: empty id or address")
	}
	return n.change(ctx, func(ctx context.Context) error { return n.joinOnce(ctx, id, raftAddr) })
}

// joinOnce performs one attempt of Join against the latest configuration.
// The final add is conditional on the index of a removal before it, if any
// (compare-and-set). GetConfiguration reports no index in raft v1.7, so the
// first change is unconditional; raft still serialises configuration
// changes, and re-running Join converges.
func (n *Node) joinOnce(ctx context.Context, id, addr string) error {
	cfg, err := n.configuration()
	if err != nil {
		return err
	}
	var index uint64
	var existing *raft.Server
	for i, s := range cfg.Servers {
		switch {
		case string(s.ID) == id:
			existing = &cfg.Servers[i]
		case string(s.Address) != addr: // another member, left alone
		case string(s.ID) == n.cfg.NodeID:
			return fmt.Errorf("raftnode: join %s at %s: the leader itself (%s) is at that address", id, addr, s.ID)
		default:
			n.log.Info("join: removing stale entry", "id", s.ID, "address", s.Address)
			f := n.raft.RemoveServer(s.ID, index, enqueueTimeout(ctx))
			if err := await(ctx, f); err != nil {
				return n.changeErr(err)
			}
			index = f.Index()
		}
	}
	var f raft.IndexFuture
	switch {
	case existing != nil && string(existing.Address) == addr:
		return nil // already a member at this address
	case existing != nil && existing.Suffrage == raft.Voter:
		n.log.Info("join: re-addressing voter", "id", id, "from", existing.Address, "to", addr)
		f = n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), index, enqueueTimeout(ctx))
	default:
		f = n.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), index, enqueueTimeout(ctx))
	}
	if err := await(ctx, f); err != nil {
		return n.changeErr(err)
	}
	n.log.Info("join: server admitted", "id", id, "address", addr, "voter", existing != nil && existing.Suffrage == raft.Voter)
	return nil
}

// Promote makes the non-voter id a voter, at the address it has. Leader only.
// Call it once the server has caught up with the log (the API's promoter
// checks its applied index first): from then on it counts towards quorum.
// Promoting a voter is a no-op; ErrNotFound if id is not a member.
func (n *Node) Promote(ctx context.Context, id string) error {
	return n.change(ctx, func(ctx context.Context) error {
		cfg, err := n.configuration()
		if err != nil {
			return err
		}
		s, ok := findServer(cfg, id)
		switch {
		case !ok:
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		case s.Suffrage == raft.Voter:
			return nil
		}
		if err := await(ctx, n.raft.AddVoter(s.ID, s.Address, 0, enqueueTimeout(ctx))); err != nil {
			return n.changeErr(err)
		}
		n.log.Info("promoted non-voter to voter", "id", id, "address", s.Address)
		return nil
	})
}

// Remove removes server id from the cluster, whether it is alive or not,
// and returns once the change is committed. Leader only (ErrNotLeader or
// ErrNoLeader elsewhere). ErrNotFound if id is not a member.
//
// A removed follower is not stopped by Raft (ShutdownOnRemove applies only
// to a leader removing itself): the leader stops replicating to it, so it
// soon knows no leader, its LastContact ages and writes on it fail with
// ErrNoLeader. Stop its process.
//
// Removing the leader itself is done in two steps, so that the cluster does
// not lose its leader with the change in flight: Remove transfers
// leadership to another voter and returns an error wrapping ErrNotLeader;
// the caller then retries Remove on the new leader.
func (n *Node) Remove(ctx context.Context, id string) error {
	return n.change(ctx, func(ctx context.Context) error {
		cfg, err := n.configuration()
		if err != nil {
			return err
		}
		if !hasServer(cfg, id) {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if id == n.cfg.NodeID {
			if err := n.TransferLeadership(ctx); err != nil {
				return fmt.Errorf("raftnode: remove self: %w", err)
			}
			return fmt.Errorf("%w: leadership transferred before removing this node; retry on the new leader", ErrNotLeader)
		}
		if err := await(ctx, n.raft.RemoveServer(raft.ServerID(id), 0, enqueueTimeout(ctx))); err != nil {
			return n.changeErr(err)
		}
		n.log.Info("removed server", "id", id)
		return nil
	})
}

// change runs a leader-only configuration change with the ApplyTimeout bound
// and a few retries for transient refusals.
func (n *Node) change(ctx context.Context, attempt func(context.Context) error) error {
	if !n.IsLeader() {
		return n.notLeaderErr()
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ApplyTimeout)
	defer cancel()
	var refused *refusal
	for i := 1; ; i++ {
		err := attempt(ctx)
		if !errors.As(err, &refused) {
			return err
		}
		if i == changeAttempts {
			return refused.err
		}
		n.log.Debug("configuration change refused, retrying", "err", err)
		select {
		case <-time.After(changeBackoff):
		case <-ctx.Done():
			return fmt.Errorf("%w: %w (after %v)", ErrIndeterminate, ctx.Err(), refused.err)
		}
	}
}

// TransferLeadership asks Raft to hand leadership to the most up-to-date
// other voter and waits until it has (bounded by ctx and Raft's own election
// timeout). ErrNotLeader or ErrNoLeader if this node is not the leader.
func (n *Node) TransferLeadership(ctx context.Context) error {
	return n.TransferLeadershipTo(ctx, "")
}

// TransferLeadershipTo hands leadership to the voter id, or to the most
// up-to-date other voter when id is empty, and waits until this node has
// stepped down (the new leader is then elected within an election timeout).
// Naming this node itself is a no-op. ErrNotLeader or ErrNoLeader if this
// node is not the leader; ErrNotFound if id is not a member; ErrNotVoter if
// it cannot lead.
func (n *Node) TransferLeadershipTo(ctx context.Context, id string) error {
	if !n.IsLeader() {
		return n.notLeaderErr()
	}
	future := n.raft.LeadershipTransfer
	if id != "" {
		cfg, err := n.configuration()
		if err != nil {
			return err
		}
		s, ok := findServer(cfg, id)
		switch {
		case !ok:
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		case s.Suffrage != raft.Voter:
			return fmt.Errorf("%w: %s", ErrNotVoter, id)
		case id == n.cfg.NodeID:
			return nil
		}
		future = func() raft.Future { return n.raft.LeadershipTransferToServer(s.ID, s.Address) }
	}
	if err := await(ctx, future()); err != nil {
		if errors.Is(err, raft.ErrRaftShutdown) {
			return ErrShutdown
		}
		return fmt.Errorf("raftnode: transfer leadership: %w", err)
	}
	n.log.Info("leadership transferred", "to", cmp.Or(id, "the most up-to-date other voter"))
	return nil
}

// Servers returns the latest Raft configuration known to this node (on the
// leader it may include a change that is not committed yet).
func (n *Node) Servers() ([]Server, error) {
	cfg, err := n.configuration()
	if err != nil {
		return nil, err
	}
	_, leader := n.raft.LeaderWithID()
	out := make([]Server, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		out = append(out, Server{
			ID:      string(s.ID),
			Address: string(s.Address),
			Voter:   s.Suffrage == raft.Voter,
			Leader:  s.ID == leader,
		})
	}
	return out, nil
}

// configuration returns the latest configuration known to this node.
func (n *Node) configuration() (raft.Configuration, error) {
	if n.isShutdown() {
		return raft.Configuration{}, ErrShutdown
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return raft.Configuration{}, fmt.Errorf("raftnode: get configuration: %w", err)
	}
	return f.Configuration(), nil
}

func hasServer(cfg raft.Configuration, id string) bool {
	_, ok := findServer(cfg, id)
	return ok
}

// findServer returns the entry of server id in cfg.
func findServer(cfg raft.Configuration, id string) (raft.Server, bool) {
	for _, s := range cfg.Servers {
		if string(s.ID) == id {
			return s, true
		}
	}
	return raft.Server{}, false
}

// hasNonVoter reports whether the configuration f holds has a non-voter,
// or may have one (f failed).
func hasNonVoter(f raft.ConfigurationFuture) bool {
	if f.Error() != nil {
		return true
	}
	for _, s := range f.Configuration().Servers {
		if s.Suffrage != raft.Voter {
			return true
		}
	}
	return false
}

// hasOtherVoter reports whether the configuration f holds has a voter
// besides self (false when f failed).
func hasOtherVoter(f raft.ConfigurationFuture, self string) bool {
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter && string(s.ID) != self {
			return true
		}
	}
	return false
}
