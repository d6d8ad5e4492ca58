package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokend/tokend/raftnode"
)

// Membership checks run by housekeeping.
const (
	// removedCheckAfter: a node that has not heard from a leader for this
	// long asks the other members whether it is still one of them.
	removedCheckAfter = maxStaleness
	// removedCheckEvery spaces those questions.
	removedCheckEvery = 5 * time.Second
	// statusAskTimeout bounds each member's answer.
	statusAskTimeout = time.Second
	// announceEvery spaces a node's attempts to tell the cluster its new
	// addresses; announceRefusedEvery is used once the cluster refused.
	announceEvery        = 2 * time.Second
	announceRefusedEvery = time.Minute
	announceCallTimeout  = 3 * time.Second
)

// memberWatch is the state of this node's membership checks.
type memberWatch struct {
	// removed is set once the members in contact with a leader say this
	// node is not in the configuration; request handlers read it.
	removed atomic.Bool

	// The rest belongs to the housekeeping goroutine.
	lastRemovedCheck time.Time
	lastAnnounce     time.Time
	announceRefused  bool
}

// CheckRemoved is a non-leader's check that it still belongs to the
// cluster. A node the cluster removed while it was down restarts with a log
// that still lists it as a voter: it campaigns, the members reject its
// (pre-)votes because it is not in their configuration, and nothing tells
// its operator. So while no leader has contacted it for removedCheckAfter
// (or since it started), it asks the members it knows (and the configured
// peers) for their status every removedCheckEvery; if
// those in contact with a leader all leave it out of their configuration, it
// logs an error once and reports itself removed (Removed) until
// a leader contacts it again. It never proposes or campaigns itself.
func (m *Members) CheckRemoved(ctx context.Context) {
	w := &m.watch
	st := m.node.Stats()
	if st.LeaderID != "" && !st.LastContact.IsZero() && time.Since(st.LastContact) < removedCheckAfter {
		if w.removed.CompareAndSwap(true, false) {
			m.log.Info("a leader is in contact with this node again; it is a member of the cluster")
		}
		return
	}
	if time.Since(w.lastRemovedCheck) < removedCheckEvery {
		return
	}
	w.lastRemovedCheck = time.Now()
	urls := m.peerURLs()
	if len(urls) == 0 {
		return // a fresh node that has not joined yet: nothing to ask
	}
	member, removed, by := m.askMembership(ctx, urls)
	if !removed || member || w.removed.Swap(true) {
		return
	}
	m.log.Error("this node was removed from the cluster: the members in contact with the leader no longer "+
		"count it, and it will not rejoin with its old data; wipe the data dir and --join again",
		"told_by", by, "node", m.cfg.NodeID)
}

// peerURLs lists the base URLs of the other members this node knows from
// its configuration and state, then the configured peers, without
// duplicates or this node. It is empty while this node has no
// configuration at all (a fresh node before its first join).
func (m *Members) peerURLs() []string {
	servers, err := m.node.Servers()
	if err != nil || len(servers) == 0 {
		return nil
	}
	var urls []string
	for _, srv := range servers {
		if addr, ok := m.state.NodeAddr(srv.ID); ok && srv.ID != m.cfg.NodeID {
			urls = append(urls, m.peers.baseURL(addr))
		}
	}
	for _, p := range m.cfg.Peers {
		urls = append(urls, m.peers.baseURL(p))
	}
	return distinct(urls, m.peers.baseURL(m.cfg.HTTPAdvertise))
}

// distinct returns urls in order without repeats and without skip.
func distinct(urls []string, skip string) []string {
	seen := map[string]bool{skip: true}
	var out []string
	for _, u := range urls {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// askMembership asks each URL for its status, concurrently. Only answers
// from other nodes of this cluster that know a leader count: member if any
// lists this node, removed if some answered and none does; by names one
// member that left it out.
func (m *Members) askMembership(ctx context.Context, urls []string) (member, removed bool, by string) {
	ctx, cancel := context.WithTimeout(ctx, statusAskTimeout)
	defer cancel()
	uuid := m.state.ClusterUUID()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, u := range urls {
		wg.Go(func() {
			st, err := m.peers.fetchStatus(ctx, "", u)
			if err != nil || st.LeaderID == "" || st.ID == m.cfg.NodeID || (uuid != "" && st.ClusterUUID != uuid) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if slices.Contains(st.Members, m.cfg.NodeID) {
				member = true
			} else {
				removed, by = true, st.ID
			}
		})
	}
	wg.Wait()
	return member, removed, by
}

// Announce makes sure the cluster has this node's current addresses. A
// member restarted with a new Raft address (or HTTP address) still appears
// under its old one: the leader cannot reach it, or followers cannot forward
// to it. On the leader the Raft address is corrected directly (the HTTP one
// by registerSelf, on the leader); elsewhere the node asks the cluster to re-address it
// with a join that says it has state, so that the cluster re-addresses a
// member but refuses a node it removed. Attempts are spaced by
// announceEvery, or announceRefusedEvery after a refusal.
func (m *Members) Announce(ctx context.Context) {
	raftMoved, httpMoved := m.addressesMoved()
	if !raftMoved && !httpMoved {
		return
	}
	if m.node.IsLeader() {
		if raftMoved {
			jctx, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
			defer cancel()
			if err := m.node.Join(jctx, m.cfg.NodeID, m.node.Addr()); err != nil {
				m.log.Warn("cannot record this node's new Raft address", "err", err)
			}
		}
		return
	}
	w := &m.watch
	every := announceEvery
	if w.announceRefused {
		every = announceRefusedEvery
	}
	if time.Since(w.lastAnnounce) < every {
		return
	}
	w.lastAnnounce = time.Now()
	m.announceTo(ctx, m.announceURLs())
}

// addressesMoved compares this node's addresses with those the cluster has
// for it: the Raft address in its own latest configuration, and (once it is
// in contact with the leader and caught up, so that its state is current)
// the HTTP address in the state. A node missing from its configuration has
// nothing to correct.
func (m *Members) addressesMoved() (raftMoved, httpMoved bool) {
	servers, err := m.node.Servers()
	if err != nil {
		return false, false
	}
	i := slices.IndexFunc(servers, func(srv raftnode.Server) bool { return srv.ID == m.cfg.NodeID })
	if i < 0 {
		return false, false
	}
	raftMoved = servers[i].Address != m.node.Addr()
	st := m.node.Stats()
	inContact := st.LeaderID != "" && (st.LeaderID == m.cfg.NodeID ||
		(!st.LastContact.IsZero() && time.Since(st.LastContact) < maxStaleness))
	if inContact && st.CommitIndex <= st.AppliedIndex+MaxApplyLag {
		addr, _ := m.state.NodeAddr(m.cfg.NodeID)
		httpMoved = addr != m.cfg.HTTPAdvertise
	}
	return raftMoved, httpMoved
}

// announceURLs are the leader's API first, when known, then every other
// member and configured peer.
func (m *Members) announceURLs() []string {
	var urls []string
	if _, base, err := m.leaders.base(); err == nil {
		urls = append(urls, base)
	}
	return distinct(append(urls, m.peerURLs()...), "")
}

// announceTo sends this node's join-with-state to the first of urls that
// accepts it.
func (m *Members) announceTo(ctx context.Context, urls []string) {
	body, _ := json.Marshal(JoinRequest{NodeID: m.cfg.NodeID, RaftAddr: m.node.Addr(),
		HTTPAddr: m.cfg.HTTPAdvertise, HasState: true, Replica: m.cfg.Replica})
	var last error
	for _, u := range urls {
		cctx, cancel := context.WithTimeout(ctx, announceCallTimeout)
		secret, _ := m.cfg.Credential.Secret()
		last = joinOnce(cctx, m.peers.client, u, body, string(secret), "", "")
		cancel()
		switch {
		case last == nil:
			m.watch.announceRefused = false
			m.log.Info("told the cluster this node's new addresses", "raft_addr", m.node.Addr(), "http_addr", m.cfg.HTTPAdvertise, "via", u)
			return
		case errors.Is(last, errJoinRefused):
			if !m.watch.announceRefused {
				m.log.Error("the cluster refused this node's new addresses", "err", last)
			}
			m.watch.announceRefused = true
			return
		}
	}
	if last != nil {
		m.log.Warn("cannot tell the cluster this node's new addresses yet; retrying", "err", last)
	} else {
		m.log.Error("this node's addresses changed but it knows no member to tell; restart it with --join URL of a member")
	}
}
