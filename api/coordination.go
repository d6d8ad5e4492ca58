package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
	"github.com/tokend/tokend/raftnode/cluster"
)

// The routes reach the consensus layer and the coordination with the other
// nodes (package cluster) only through the interfaces below, each declared
// as its routes need it. cluster.Cluster's parts implement them (New);
// newServer takes any implementation, such as the tests' fakes. Every error
// they return is a cluster condition that fromCluster answers.

// Node is what the routes read of the consensus layer; cluster.Node, which
// New takes, includes it.
type Node interface {
	// IsLeader reports whether this node believes it is the leader.
	IsLeader() bool
	// Leader returns the current leader's ID and Raft address, or "".
	Leader() (id, raftAddr string)
	// Servers lists the cluster configuration.
	Servers() ([]raftnode.Server, error)
	// Stats reports the node's Raft state.
	Stats() raftnode.Stats
}

// writes proposes commands (cluster.Writes).
type writes interface {
	// Propose stamps c with ctx's request ID and the command clock and
	// proposes it; it returns the result and log index. Leader only.
	Propose(ctx context.Context, c fsm.Command) (fsm.Result, uint64, error)
	// ProposeToken proposes a token creation, batched with others, from
	// any node.
	ProposeToken(ctx context.Context, c *fsm.CreateToken) (fsm.Result, error)
	// ProposeBatch proposes a follower's batch as one entry. Leader only.
	ProposeBatch(ctx context.Context, cmds []fsm.Command) ([]fsm.Result, error)
	// BatchesForwardable reports whether this node's token creations reach
	// the leader in batches rather than as whole requests.
	BatchesForwardable() bool
}

// forwarder answers a request on a follower with the leader's answer
// (cluster.Forwarder); clientAddr is the client's address, vouched for to
// the leader.
type forwarder interface {
	// Forward proxies r to the leader, once.
	Forward(w http.ResponseWriter, r *http.Request, clientAddr string) error
	// Proxy proxies r to the leader even if it was forwarded to this node.
	Proxy(w http.ResponseWriter, r *http.Request, clientAddr string) error
	// Relay sends a write to the leader under one request ID, again to the
	// next leader if that one is lost, or runs local if this node leads.
	Relay(w http.ResponseWriter, r *http.Request, clientAddr string, local func(r *http.Request) error) error
	// Stream proxies r to the leader streaming both bodies.
	Stream(w http.ResponseWriter, r *http.Request, clientAddr string, unsignedBody bool, wait time.Duration) error
	// LeaderAddrKnown reports whether the leader's HTTP address is known
	// (or there is none to know).
	LeaderAddrKnown() bool
}

// reads decides whether this node may answer from its state
// (cluster.Reads).
type reads interface {
	// CheckFresh fails unless this node may answer reads from its state.
	CheckFresh(ctx context.Context) error
	// CatchUp applies the leader's commit index as of now.
	CatchUp(ctx context.Context) error
	// ServeReadIndex is the leader's read index for member ("" for a user).
	ServeReadIndex(ctx context.Context, member string) (uint64, error)
	// WaitApplied waits for index to be applied, or with fence raises this
	// node's fence to it and reports fenced.
	WaitApplied(ctx context.Context, index uint64, fence bool) (fenced bool, err error)
}

// revocations holds revocations until every node honours them
// (cluster.Revocations).
type revocations interface {
	// Await returns once the revocation at index holds on every node.
	Await(ctx context.Context, index uint64)
	// LeaseOf is, on the leader, member's read lease: time left and held.
	LeaseOf(member string) (time.Duration, bool)
}

// members reports on the membership (cluster.Members).
type members interface {
	// Removed reports whether the cluster removed this node.
	Removed() bool
	// NoLeader is the error for a request that needs a leader when none is
	// known.
	NoLeader(ctx context.Context) error
	// LocalStatus is this node's own account of itself.
	LocalStatus() cluster.Status
	// Probe fetches the statuses of servers within timeout.
	Probe(ctx context.Context, servers []raftnode.Server, timeout time.Duration) map[string]cluster.Status
	// RoleOf names member id's role.
	RoleOf(id string, voter bool) string
	// Up counts the members that have applied index, less
	// cluster.MaxApplyLag.
	Up(ctx context.Context, servers []raftnode.Server, index uint64) cluster.UpCount
	// URLs are the members' API base URLs, this node's first.
	URLs() []string
	// IsMember reports whether id is in the configuration.
	IsMember(id string) bool
}

// membership changes the membership (cluster.Members). Leader only, but
// AwaitLeadership.
type membership interface {
	// MarkReplica records a read replica's mark before it joins, and
	// returns the index of the entry, 0 if none was needed.
	MarkReplica(ctx context.Context, q cluster.JoinRequest) (uint64, error)
	// Admit adds or re-addresses a joining node under the membership rules.
	Admit(ctx context.Context, q cluster.JoinRequest) error
	// Remove removes a member from the configuration.
	Remove(ctx context.Context, id string) error
	// Transfer hands leadership over and returns the new leader.
	Transfer(ctx context.Context, id string) (string, error)
	// RestoreAddrs puts the members' HTTP addresses back after a restore.
	RestoreAddrs(ctx context.Context, before map[string]string) (uint64, error)
	// AwaitLeadership returns once this node leads.
	AwaitLeadership(ctx context.Context) error
}

// commandClock is the time commands are stamped with and token expiry is
// checked against (cluster.Clock), in Unix ms.
type commandClock interface {
	Now() int64
	Stamp() int64
}

// coordination is the other nodes as the routes reach them; every field
// is set. New takes them from a cluster.Cluster (coordinationOf).
type coordination struct {
	writes      writes
	forwarder   forwarder
	reads       reads
	revocations revocations
	members     members
	membership  membership
	clock       commandClock
}

// coordinationOf is c's parts as the routes reach them.
func coordinationOf(c *cluster.Cluster) coordination {
	return coordination{writes: c.Writes(), forwarder: c.Forwarder(), reads: c.Reads(),
		revocations: c.Revocations(), members: c.Members(), membership: c.Members(), clock: c.Clock()}
}

// committer proposes the routes' commands and holds the answers about
// revocations until every node honours them.
type committer struct {
	*deps
}

// clusterConfig is the coordination's part of c, with batches counting the
// batches of token creations this node forwards.
func (c Config) clusterConfig(batches cluster.Counter) cluster.Config {
	return cluster.Config{NodeID: c.NodeID, HTTPAdvertise: c.HTTPAdvertise, Replica: c.Replica,
		Credential: c.Credential, ClusterCert: len(c.ClusterCA) > 0, PeerTLS: c.PeerTLS,
		RequestTimeout: c.RequestTimeout, Logger: c.Logger, Peers: c.Peers, Build: c.Build, Clock: c.Clock,
		PurgeInterval: c.PurgeInterval, Metrics: cluster.Metrics{BatchesForwarded: batches}}
}

// propose proposes c through the coordination (writes.Propose), counts
// what it invalidated and, when w is given, sets the applied index on w
// for a forwarding follower to wait for. It returns the result and log
// index.
func (s *committer) propose(ctx context.Context, w http.ResponseWriter, c fsm.Command) (fsm.Result, uint64, error) {
	res, index, err := s.writes.Propose(ctx, c)
	if err != nil {
		return fsm.Result{}, 0, err
	}
	s.meter.committed(c, res)
	if w != nil {
		w.Header().Set(headerAppliedIndex, strconv.FormatUint(index, 10))
	}
	return res, index, nil
}

// relay runs the write route h for r on the leader: here when this node
// leads, else through the forwarder (Relay), which follows the leadership.
func (s *committer) relay(w http.ResponseWriter, r *http.Request, p httprouter.Params, h handlerFunc) error {
	return s.forwarder.Relay(w, r, clientAddr(r), func(r *http.Request) error { return h(w, r, p) })
}

// awaitRevoked holds the answer about a revocation this leader's state
// already shows (a repeated invalidation) as the first answer was held: it
// waits for the replicas as for the applied index, which covers the entry
// that made the revocation, and reports that index on w, so that a
// forwarding follower applies it too before it answers.
func (s *committer) awaitRevoked(ctx context.Context, w http.ResponseWriter) {
	index := s.state.AppliedIndex()
	w.Header().Set(headerAppliedIndex, strconv.FormatUint(index, 10))
	s.revocations.Await(ctx, index)
}
