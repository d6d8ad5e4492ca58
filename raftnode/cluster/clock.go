package cluster

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tokend/tokend/fsm"
)

// Clock is the time this node stamps on commands and checks expiry
// against: its wall clock (Config.Clock), but never earlier than the log's
// clock (fsm.FSM.LastTime) nor than a stamp it already handed out. So
// time in the log never runs backwards, whichever leader stamps it: a
// leader whose clock is behind or steps back stamps the log's time until
// its clock catches up, a new leader starts from the log's time, and two
// commands stamped before either is applied are stamped in order.
//
// The state machine applies a command stamped earlier than the log's
// clock at that clock anyway (fsm.FSM.Apply); stamping right keeps the
// stamp in the entry equal to the time it takes effect at.
//
// The leader stamps the cluster's time rather than its own: the median of
// the voters' clocks, which every node samples each housekeeping round
// (clockOffsets), so that one node whose clock is far ahead (or behind)
// does not move the log's time when it leads.
type Clock struct {
	wall    func() time.Time
	nodeID  string
	node    Node
	state   *fsm.FSM
	log     *slog.Logger
	peers   *peers
	offsets clockOffsets // the other voters' clocks, for the stamps
	last    atomic.Int64 // the latest stamp handed out, Unix ms
	// warned is when (time.Now, Unix ns) the node last logged that its
	// clock is behind the log's time.
	warned atomic.Int64
}

func newClock(cfg Config, node Node, state *fsm.FSM, p *peers) *Clock {
	return &Clock{wall: cfg.Clock, nodeID: cfg.NodeID, node: node, state: state, log: cfg.Logger, peers: p}
}

// Skew this node reports: when its clock is more than skewWarnAbove behind
// the log's time, it logs a warning, at most once per skewWarnEvery.
const (
	skewWarnAbove = time.Second
	skewWarnEvery = time.Minute
)

// Now returns the current time in Unix milliseconds: the wall clock, or
// the log's clock or latest stamp if either is later. Expiry checks use
// it, so a node whose clock is behind still refuses a token once it has
// applied an entry stamped after the token's expiry.
func (c *Clock) Now() int64 {
	wall := c.wall().UnixMilli()
	t := max(wall, c.state.LastTime(), c.last.Load())
	if behind := time.Duration(t-wall) * time.Millisecond; behind > skewWarnAbove {
		c.warnBehind(behind)
	}
	return t
}

// warnBehind logs that this node's clock is behind the log's time, unless
// it did within skewWarnEvery. Either this clock is slow or stepped back,
// or a leader's clock was fast: in both cases the clocks need fixing.
func (c *Clock) warnBehind(behind time.Duration) {
	now := time.Now().UnixNano()
	last := c.warned.Load()
	if now-last < int64(skewWarnEvery) || !c.warned.CompareAndSwap(last, now) {
		return
	}
	c.log.Warn("this node's clock is behind the time in the Raft log: a clock is skewed (check NTP on every node); "+
		"commands are stamped with the log's time until this clock catches up", "behind", behind.Round(time.Millisecond))
}

// warnOffCluster logs that this node's clock is off the cluster's time
// (the median of the voters' clocks) by off, unless a skew warning was
// logged within skewWarnEvery.
func (c *Clock) warnOffCluster(off time.Duration) {
	now := time.Now().UnixNano()
	last := c.warned.Load()
	if now-last < int64(skewWarnEvery) || !c.warned.CompareAndSwap(last, now) {
		return
	}
	c.log.Warn("this node's clock differs from the other voters' (check NTP on every node); as leader it stamps "+
		"their median time, and it checks token expiry against its own clock", "ahead_by", off.Round(time.Millisecond))
}

// Stamp returns the time for a command about to be proposed, and records
// it as the latest stamp: the cluster's time rather than this node's own
// clock (so that a leader whose clock is off stamps its peers' time), but
// never earlier than the log's time or an earlier stamp.
func (c *Clock) Stamp() int64 {
	ref := c.offsets.clusterTime(c.wall())
	t := max(ref.UnixMilli(), c.state.LastTime(), c.last.Load())
	for {
		last := c.last.Load()
		if t <= last {
			return last
		}
		if c.last.CompareAndSwap(last, t) {
			return t
		}
	}
}
