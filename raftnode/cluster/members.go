package cluster

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tokend/tokend/fsm"
)

// Roles of a member, as the status reports them.
const (
	RoleVoter    = "voter"
	RoleNonVoter = "non-voter" // joined, not promoted yet
	RoleReplica  = "replica"   // a read replica: never promoted
)

// Members watches the membership and this node's place in it: whether the
// cluster still counts this node (CheckRemoved), whether it has this node's
// current addresses (Announce), which non-voters to promote
// (PromoteCaughtUp), how many voters are reachable when no leader is known
// (NoLeader), and every member's own account of itself (Status).
type Members struct {
	cfg     Config
	node    Node
	state   *fsm.FSM
	log     *slog.Logger
	peers   *peers
	leaders *leaders
	reads   *Reads
	clock   *Clock
	writes  *Writes

	started      atomic.Int64 // when New ran (Unix ns): the "no leader" answer's grace
	reach        reachCache   // voters reachable, for the "no leader" answer
	watch        memberWatch  // membership checks run by housekeeping
	warnedVoters atomic.Int64 // voters counted when WarnEvenVoters last looked
}

func newMembers(cfg Config, node Node, state *fsm.FSM, p *peers) *Members {
	m := &Members{cfg: cfg, node: node, state: state, log: cfg.Logger, peers: p}
	m.started.Store(time.Now().UnixNano())
	return m
}

// Removed reports whether the members in contact with a leader have said
// that this node is not in the configuration (CheckRemoved): it then
// answers nothing from its state.
func (m *Members) Removed() bool { return m.watch.removed.Load() }

// RoleOf names the role of member id, a voter or not: RoleVoter,
// RoleReplica or RoleNonVoter.
func (m *Members) RoleOf(id string, voter bool) string {
	switch {
	case voter:
		return RoleVoter
	case m.state.IsReplica(id):
		return RoleReplica
	default:
		return RoleNonVoter
	}
}

// URLs are the base URLs of the members whose HTTP address the state
// knows, this node first.
func (m *Members) URLs() []string {
	urls := []string{m.peers.baseURL(m.cfg.HTTPAdvertise)}
	servers, _ := m.node.Servers()
	for _, srv := range servers {
		if addr, ok := m.state.NodeAddr(srv.ID); ok && srv.ID != m.cfg.NodeID {
			urls = append(urls, m.peers.baseURL(addr))
		}
	}
	slices.Sort(urls[1:])
	return urls
}

// registerSelf records this node's HTTP address if the state lacks it.
func (m *Members) registerSelf(ctx context.Context) error {
	if addr, ok := m.state.NodeAddr(m.cfg.NodeID); ok && addr == m.cfg.HTTPAdvertise {
		return nil
	}
	_, _, err := m.writes.Propose(ctx, &fsm.SetNode{NodeID: m.cfg.NodeID, HTTPAddr: m.cfg.HTTPAdvertise})
	return err
}
