package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
)

// maxStaleness is how long a follower may go without hearing from its leader
// and still answer reads from its own state; beyond it, reads are refused.
// It is a few election timeouts of hashicorp/raft's defaults, so a healthy
// follower (heartbeats every ~100 ms) never hits it.
const maxStaleness = 5 * time.Second

// MaxApplyLag is how many entries a node may have left to apply and still
// count as caught up.
const MaxApplyLag = 64

// Node is the consensus layer as the coordination uses it. raftnode.Node
// implements it.
type Node interface {
	// Propose appends c to the log and returns its result and log index once
	// it is applied locally. Leader only: ErrNotLeader elsewhere.
	// ErrIndeterminate means it may have been applied.
	Propose(ctx context.Context, c fsm.Command) (fsm.Result, uint64, error)
	// IsLeader reports whether this node believes it is the leader.
	IsLeader() bool
	// Leader returns the current leader's ID and Raft address, or "".
	Leader() (id, raftAddr string)
	// LeaderChange returns a channel closed at the next leader change.
	LeaderChange() <-chan struct{}
	// WaitApplied returns once the local state has applied index.
	WaitApplied(ctx context.Context, index uint64) error
	// ReadIndex confirms leadership and returns the commit index once it is
	// applied locally. Leader only.
	ReadIndex(ctx context.Context) (uint64, error)
	// Join adds a server as a non-voter, or re-addresses a member,
	// idempotently. Leader only.
	Join(ctx context.Context, id, raftAddr string) error
	// Promote makes a non-voter a voter. Leader only.
	Promote(ctx context.Context, id string) error
	// Remove removes a server; raftnode.ErrNotFound if unknown. Leader only.
	Remove(ctx context.Context, id string) error
	// TransferLeadershipTo hands leadership to voter id, or to any other
	// voter when id is "". Leader only.
	TransferLeadershipTo(ctx context.Context, id string) error
	// Addr is this node's advertised Raft address.
	Addr() string
	// Servers lists the cluster configuration.
	Servers() ([]raftnode.Server, error)
	// LastContact is when a follower last heard from its leader.
	LastContact() time.Time
	// Stats reports the node's Raft state.
	Stats() raftnode.Stats
	// Term is the current Raft term, cheaply (token checks on the leader
	// read it).
	Term() uint64
}

// Cluster is one node's coordination with the others. It owns the parts
// below, each with one job, and runs their background work (Run). It is
// safe for concurrent use.
type Cluster struct {
	cfg  Config
	node Node

	writes      *Writes
	forwarder   *Forwarder
	reads       *Reads
	revocations *Revocations
	members     *Members
	clock       *Clock
	peers       *peers
}

// New returns the coordination of node and its state. cfg is validated and
// copied.
func New(cfg Config, node Node, state *fsm.FSM) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if node == nil || state == nil {
		return nil, fmt.Errorf("cluster: New needs a node and a state")
	}
	cfg = cfg.withDefaults()
	c := &Cluster{cfg: cfg, node: node}
	c.peers = newPeers(cfg, state)
	c.clock = newClock(cfg, node, state, c.peers)
	c.members = newMembers(cfg, node, state, c.peers)
	ld := &leaders{cfg: cfg, node: node, state: state, log: cfg.Logger, peers: c.peers}
	grants := newLeaseLedger(maxStaleness)
	c.reads = &Reads{cfg: cfg, node: node, state: state, log: cfg.Logger, leaders: ld, members: c.members, grants: grants}
	c.revocations = &Revocations{cfg: cfg, node: node, log: cfg.Logger, peers: c.peers, reads: c.reads}
	c.writes = newWrites(cfg, node, ld, c.clock)
	c.forwarder = &Forwarder{cfg: cfg, node: node, log: cfg.Logger, leaders: ld, members: c.members}
	c.members.reads, c.members.clock, c.members.writes, c.members.leaders = c.reads, c.clock, c.writes, ld
	return c, nil
}

// Writes is the way of this node's writes into the log.
func (c *Cluster) Writes() *Writes { return c.writes }

// Forwarder proxies client requests to the leader.
func (c *Cluster) Forwarder() *Forwarder { return c.forwarder }

// Reads decides when this node may answer reads from its state.
func (c *Cluster) Reads() *Reads { return c.reads }

// Revocations holds revocations until every node honours them.
func (c *Cluster) Revocations() *Revocations { return c.revocations }

// Members watches the membership and this node's place in it.
func (c *Cluster) Members() *Members { return c.members }

// Clock is the time this node stamps on commands and checks expiry against.
func (c *Cluster) Clock() *Clock { return c.clock }

// housekeepPoll is how often housekeeping runs a round.
const housekeepPoll = time.Second

// Run does the node's periodic work until ctx ends, a round every second.
// On every node it makes sure the cluster has this node's current
// addresses (Members.Announce), samples the other voters' clocks and,
// while no leader is in contact, checks whether the cluster removed this
// node (Members.CheckRemoved); every node also keeps its read lease
// renewed (Reads). While this node is the leader it records its own HTTP
// address (right after winning an election too), promotes non-voters that
// have caught up (Members.PromoteCaughtUp) and proposes a Purge of expired
// records every Config.PurgeInterval. Failures are logged and retried on
// the next round; every step is bounded in time.
func (c *Cluster) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.reads.keep(ctx)
	}()
	c.housekeep(ctx, housekeepPoll, c.cfg.PurgeInterval)
	<-done
}

// housekeep is Run's rounds with their intervals as parameters, for tests.
func (c *Cluster) housekeep(ctx context.Context, poll, purgeEvery time.Duration) {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	var lastPurge time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		m := c.members
		m.Announce(ctx)
		c.clock.sample(ctx)
		if !c.node.IsLeader() {
			lastPurge = time.Time{}
			m.CheckRemoved(ctx)
			continue
		}
		m.watch.removed.Store(false)
		if err := m.registerSelf(ctx); err != nil {
			m.log.Warn("cannot record this node's HTTP address", "err", err)
		}
		m.PromoteCaughtUp(ctx)
		m.WarnEvenVoters()
		if lastPurge.IsZero() {
			lastPurge = time.Now() // first purge one interval after winning
		} else if time.Since(lastPurge) >= purgeEvery {
			lastPurge = time.Now()
			c.purge(ctx)
		}
	}
}

// purge proposes a Purge of expired records and logs the outcome.
func (c *Cluster) purge(ctx context.Context) {
	if res, _, err := c.writes.Propose(ctx, &fsm.Purge{}); err != nil {
		c.cfg.Logger.Warn("purge failed", "err", err)
	} else if res.Purged > 0 {
		c.cfg.Logger.Info("purged expired records", "count", res.Purged)
	}
}
