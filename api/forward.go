package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/raftnode"
)

// maxForwardedResponse bounds a leader's answer read by a follower.
const maxForwardedResponse = 16 << 20

// hopHeaders are not copied between the client's and the leader's
// connections (RFC 9110 §7.6.1), plus Content-Length, which is recomputed.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true,
	"Upgrade": true, "Content-Length": true, "Host": true,
}

// leader adapts h to a write route: it runs on the leader; any other node
// first authenticates the credentials the request carries, if any, then
// proxies it to the leader and answers with the leader's response.
func (s *Server) leader(h handlerFunc) httprouter.Handle {
	return s.leaderWith(s.authenticateAny, h)
}

// leaderWith is leader with check run on a follower before it forwards:
// a follower forwards, vouching for the client, only what check admits
// (h makes its own checks on the leader).
func (s *Server) leaderWith(check func(*http.Request) error, h handlerFunc) httprouter.Handle {
	local := s.local(h)
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		if s.node.IsLeader() {
			local(w, r, p)
			return
		}
		err := check(r)
		if err == nil {
			err = s.toLeader(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	}
}

// toLeader answers r on a follower with the leader's answer (see forward),
// or with why there is no leader to ask.
func (s *Server) toLeader(w http.ResponseWriter, r *http.Request) error {
	if id, _ := s.node.Leader(); id == "" {
		return s.noLeaderError(r.Context())
	}
	return s.forward(w, r)
}

// leaderAddrWait bounds how long a request waits for this node's state to
// learn the leader's HTTP address. A node that has just restarted knows the
// leader from Raft before its state has replayed the log it already holds,
// and would otherwise refuse writes for that moment.
const leaderAddrWait = 2 * time.Second

// awaitLeaderBase is leaderBase, except that while the leader's HTTP address
// is missing from the state it waits (for leaderAddrWait at most) for the
// state to apply more of the log.
func (s *Server) awaitLeaderBase(ctx context.Context) (id, base string, err error) {
	if id, base, err = s.leaderBase(); err == nil || s.leaderAddrKnown() {
		return id, base, err
	}
	ctx, cancel := context.WithTimeout(ctx, leaderAddrWait)
	defer cancel()
	for !s.leaderAddrKnown() && s.node.WaitApplied(ctx, s.state.AppliedIndex()+1) == nil {
	}
	return s.leaderBase()
}

// leaderAddrKnown reports whether another node leads and the state holds its
// HTTP address, or there is no such address to wait for: no leader is known
// or this node leads.
func (s *Server) leaderAddrKnown() bool {
	id, _ := s.node.Leader()
	if id == "" || id == s.cfg.NodeID {
		return true
	}
	addr, ok := s.state.NodeAddr(id)
	return ok && addr != ""
}

// leaderBase returns the leader's ID and API base URL.
func (s *Server) leaderBase() (id, base string, err error) {
	id, _ = s.node.Leader()
	switch {
	case id == "":
		return "", "", fromNode(raftnode.ErrNoLeader)
	case id == s.cfg.NodeID:
		return "", "", fromNode(raftnode.ErrNotLeader) // leadership is changing hands
	}
	addr, ok := s.state.NodeAddr(id)
	if !ok || addr == "" {
		return "", "", unavailable("master_not_discovered_exception",
			fmt.Sprintf("the HTTP address of leader [%s] is not known yet", id))
	}
	return id, s.peerScheme() + "://" + addr, nil
}

// forward proxies r to the leader. A request that was already forwarded is
// not forwarded again: two nodes disagreeing on the leader answer 503 rather
// than loop. When the leader reports the index its write was applied at, the
// follower waits to apply it too before answering, so that the client can
// read its write from this node.
func (s *Server) forward(w http.ResponseWriter, r *http.Request) error {
	if r.Header.Get(headerForwarded) != "" {
		return fromNode(raftnode.ErrNotLeader)
	}
	return s.proxy(w, r)
}

// proxy sends r to the leader and answers with its response (see forward),
// without forward's guard against a second hop: removeSelf uses it after
// handing leadership over, when the new leader is known to be another node.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request) error {
	leaderID, base, err := s.awaitLeaderBase(r.Context())
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	a, err := s.ask(ctx, r, body, leaderID, base)
	if err != nil {
		return err
	}
	return s.answer(ctx, w, a)
}

// leaderAnswer is the leader's response to a forwarded request.
type leaderAnswer struct {
	leaderID string
	status   int
	header   http.Header
	body     []byte
}

// ask sends r, whose body is body, to the leader at base and reads its
// answer. A leader that cannot be reached is a 503 naming it.
func (s *Server) ask(ctx context.Context, r *http.Request, body []byte, leaderID, base string) (*leaderAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, base+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	copyHeader(req.Header, r.Header)
	s.signAsNode(req, leaderID, s.clientAddr(r), body, false)
	s.forwardRequestID(req, r)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, s.leaderUnreachable(leaderID, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardedResponse))
	if err != nil {
		return nil, s.leaderUnreachable(leaderID, err)
	}
	return &leaderAnswer{leaderID: leaderID, status: resp.StatusCode, header: resp.Header, body: answer}, nil
}

// forwardRequestID puts r's request ID, when it carries one, on req, r
// forwarded by this node (signAsNode authenticates the call).
func (s *Server) forwardRequestID(req, r *http.Request) {
	req.Header.Del(headerRequestID)
	if id, ok := requestIDIn(r.Context()); ok {
		req.Header.Set(headerRequestID, hex.EncodeToString(id[:]))
	}
}

// answer writes the leader's answer a to w once this node has applied the
// write it reports (awaitLeaderIndex).
func (s *Server) answer(ctx context.Context, w http.ResponseWriter, a *leaderAnswer) error {
	if err := s.awaitLeaderIndex(ctx, s.cfg.RequestTimeout, a.leaderID, a.header); err != nil {
		return err
	}
	copyHeader(w.Header(), a.header)
	w.Header().Set(headerServedBy, a.leaderID)
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
	return nil
}

// awaitLeaderIndex waits, at most timeout, until this node has applied the
// index the leader's answer reports in X-Tokend-Applied-Index, if any.
func (s *Server) awaitLeaderIndex(ctx context.Context, timeout time.Duration, leaderID string, h http.Header) error {
	v := h.Get(headerAppliedIndex)
	if v == "" {
		return nil
	}
	index, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return s.leaderUnreachable(leaderID, fmt.Errorf("bad %s %q", headerAppliedIndex, v))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return fromNode(s.node.WaitApplied(ctx, index))
}

// leaderUnreachable logs and returns the 503 for a failed call to the leader.
func (s *Server) leaderUnreachable(leaderID string, err error) error {
	s.log.Warn("leader unreachable", "leader", leaderID, "err", err)
	return unavailable("master_not_discovered_exception", fmt.Sprintf("leader [%s] is unreachable", leaderID))
}

// copyHeader replaces dst's values with src's for every end-to-end header.
func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		if hopHeaders[k] {
			continue
		}
		dst[k] = append([]string(nil), vs...)
	}
}

// leaderReadIndex asks the leader for its read index (GET
// /_tokend/cluster/read_index), as a node.
func (s *Server) leaderReadIndex(ctx context.Context) (uint64, error) {
	leaderID, base, err := s.awaitLeaderBase(ctx)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_tokend/cluster/read_index", nil)
	if err != nil {
		return 0, err
	}
	s.signAsNode(req, leaderID, "", nil, false)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, s.leaderUnreachable(leaderID, err)
	}
	defer resp.Body.Close()
	var v struct {
		Index uint64 `json:"index"`
	}
	if resp.StatusCode != http.StatusOK {
		return 0, s.leaderUnreachable(leaderID, fmt.Errorf("read_index answered %d", resp.StatusCode))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&v); err != nil {
		return 0, s.leaderUnreachable(leaderID, err)
	}
	return v.Index, nil
}
