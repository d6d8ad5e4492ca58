package cluster

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

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

// Forwarder proxies a client's request that only the leader may serve from
// a follower to the leader, and answers with the leader's response. A
// request that was already forwarded is not forwarded again: two nodes
// disagreeing on the leader answer ErrNotLeader rather than loop. When the
// leader reports the index its write was applied at
// (HeaderAppliedIndex), the follower waits to apply it too before
// answering, so that the client can read its write from this node.
// clientAddr is the address of the client the request is forwarded for,
// which the leader charges failures to; "" for none.
type Forwarder struct {
	cfg     Config
	node    Node
	log     *slog.Logger
	leaders *leaders
	members *Members
}

// LeaderAddrKnown reports whether requests can be forwarded to the leader:
// another node leads and the state holds its HTTP address, or no leader is
// known or this node leads.
func (f *Forwarder) LeaderAddrKnown() bool { return f.leaders.addrKnown() }

// Forward answers r on a follower with the leader's answer, or fails with
// why there is no leader to ask (NoLeaderError), or with
// raftnode.ErrNotLeader when r was forwarded to this node already.
func (f *Forwarder) Forward(w http.ResponseWriter, r *http.Request, clientAddr string) error {
	if id, _ := f.node.Leader(); id == "" {
		return f.members.NoLeader(r.Context())
	}
	if r.Header.Get(HeaderForwarded) != "" {
		return FromNode(raftnode.ErrNotLeader)
	}
	return f.Proxy(w, r, clientAddr)
}

// Proxy sends r to the leader and answers with its response, as Forward
// does but without its guard against a second hop: for a leader that has
// handed leadership to another node and must complete the request there.
func (f *Forwarder) Proxy(w http.ResponseWriter, r *http.Request, clientAddr string) error {
	leaderID, base, err := f.leaders.awaitBase(r.Context())
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), f.cfg.RequestTimeout)
	defer cancel()
	a, err := f.ask(ctx, r, body, clientAddr, leaderID, base)
	if err != nil {
		return err
	}
	return f.answer(ctx, w, a)
}

// Relay answers r, a write that proposes one command, on a follower with
// the leader's answer, as Forward does, but follows the leadership: r gets
// its request ID here, once (WithRequestID), and is sent again with it to
// a new leader, or run by local here if this node is elected meanwhile.
// Without a leader it fails at once (NoLeaderError).
func (f *Forwarder) Relay(w http.ResponseWriter, r *http.Request, clientAddr string, local func(r *http.Request) error) error {
	if r.Header.Get(HeaderForwarded) != "" {
		return FromNode(raftnode.ErrNotLeader) // never a second hop
	}
	if id, _ := f.node.Leader(); id == "" {
		return f.members.NoLeader(r.Context())
	}
	// As for any forward, the request timeout starts once the leader's
	// address is known (a restarted node may still be replaying it).
	if _, _, err := f.leaders.awaitBase(r.Context()); err != nil {
		return err
	}
	if _, ok := RequestIDIn(r.Context()); !ok {
		r = r.WithContext(WithRequestID(r.Context(), NewRequestID()))
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), f.cfg.RequestTimeout)
	defer cancel()
	var a *leaderAnswer
	err = f.leaders.follow(ctx, func() error {
		r.Body = io.NopCloser(bytes.NewReader(body))
		return local(r)
	}, func(ctx context.Context, leaderID, base string) error {
		answer, err := f.ask(ctx, r, body, clientAddr, leaderID, base)
		if err != nil {
			return &leaderGone{err}
		}
		if err := notLeading(answer); err != nil {
			return err
		}
		a = answer
		return nil
	})
	if err != nil || a == nil {
		return err // a == nil: this node led and local answered
	}
	return f.answer(ctx, w, a)
}

// Stream proxies r to the leader as Forward does, but streams the request
// and response bodies instead of buffering them, for snapshot transfers:
// unsignedBody leaves the request body out of the node proof, and wait
// bounds the wait for the leader's applied index. A response cut off
// midway aborts the handler (http.ErrAbortHandler), so the client sees a
// broken transfer, never a short one.
func (f *Forwarder) Stream(w http.ResponseWriter, r *http.Request, clientAddr string, unsignedBody bool, wait time.Duration) error {
	if r.Header.Get(HeaderForwarded) != "" {
		return FromNode(raftnode.ErrNotLeader)
	}
	leaderID, base, err := f.leaders.awaitBase(r.Context())
	if err != nil {
		return err
	}
	body := r.Body
	if r.ContentLength == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.RequestURI(), body)
	if err != nil {
		return err
	}
	req.ContentLength = r.ContentLength
	copyHeader(req.Header, r.Header)
	f.leaders.peers.sign(req, leaderID, clientAddr, nil, unsignedBody)
	resp, err := f.leaders.peers.stream.Do(req)
	if err != nil {
		return f.leaders.unreachable(leaderID, err)
	}
	defer resp.Body.Close()
	if err := f.awaitLeaderIndex(r.Context(), wait, leaderID, resp.Header); err != nil {
		return err
	}
	copyHeader(w.Header(), resp.Header)
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.Header().Set(HeaderServedBy, leaderID)
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		f.log.Warn("snapshot transfer from the leader cut off", "leader", leaderID, "err", err)
		panic(http.ErrAbortHandler) // the client must see a broken transfer, not a short one
	}
	return nil
}

// leaderAnswer is the leader's response to a forwarded request.
type leaderAnswer struct {
	leaderID string
	status   int
	header   http.Header
	body     []byte
}

// ask sends r, whose body is body, to the leader at base and reads its
// answer. A leader that cannot be reached is a LeaderUnreachableError.
func (f *Forwarder) ask(ctx context.Context, r *http.Request, body []byte, clientAddr, leaderID, base string) (*leaderAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, base+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	copyHeader(req.Header, r.Header)
	f.leaders.peers.sign(req, leaderID, clientAddr, body, false)
	forwardRequestID(req, r)
	resp, err := f.leaders.peers.client.Do(req)
	if err != nil {
		return nil, f.leaders.unreachable(leaderID, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardedResponse))
	if err != nil {
		return nil, f.leaders.unreachable(leaderID, err)
	}
	return &leaderAnswer{leaderID: leaderID, status: resp.StatusCode, header: resp.Header, body: answer}, nil
}

// forwardRequestID puts r's request ID, when it carries one, on req, r
// forwarded by this node (the node proof authenticates the call).
func forwardRequestID(req, r *http.Request) {
	req.Header.Del(HeaderRequestID)
	if id, ok := RequestIDIn(r.Context()); ok {
		req.Header.Set(HeaderRequestID, hex.EncodeToString(id[:]))
	}
}

// answer writes the leader's answer a to w once this node has applied the
// write it reports (awaitLeaderIndex).
func (f *Forwarder) answer(ctx context.Context, w http.ResponseWriter, a *leaderAnswer) error {
	if err := f.awaitLeaderIndex(ctx, f.cfg.RequestTimeout, a.leaderID, a.header); err != nil {
		return err
	}
	copyHeader(w.Header(), a.header)
	w.Header().Set(HeaderServedBy, a.leaderID)
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
	return nil
}

// awaitLeaderIndex waits, at most timeout, until this node has applied the
// index the leader's answer reports in HeaderAppliedIndex, if any.
func (f *Forwarder) awaitLeaderIndex(ctx context.Context, timeout time.Duration, leaderID string, h http.Header) error {
	v := h.Get(HeaderAppliedIndex)
	if v == "" {
		return nil
	}
	index, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return f.leaders.unreachable(leaderID, fmt.Errorf("bad %s %q", HeaderAppliedIndex, v))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return FromNode(f.node.WaitApplied(ctx, index))
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

// readBody reads the (size-limited) request body.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	return io.ReadAll(r.Body)
}

// envelope is what a node reads of the leader's error answer, which the
// HTTP edge writes in Elasticsearch's envelope.
type envelope struct {
	Error struct {
		RootCause []struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"root_cause"`
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
	Status int `json:"status"`
}

// notLeading returns a leaderGone error when a is the leader's 503 saying
// that it does not lead (any more), or that it knows no leader.
func notLeading(a *leaderAnswer) error {
	if a.status != http.StatusServiceUnavailable {
		return nil
	}
	var env envelope
	if json.Unmarshal(a.body, &env) != nil {
		return nil
	}
	switch env.Error.Type {
	case "not_master_exception", "master_not_discovered_exception":
		return &leaderGone{&LeaderRefusedError{Leader: a.leaderID, Status: a.status, Type: env.Error.Type, Reason: env.Error.Reason}}
	}
	return nil
}
