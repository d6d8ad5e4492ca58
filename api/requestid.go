package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/tokend/tokend/fsm"
)

// A write keeps one request ID from the node that first receives it to the
// proposal that commits it, however often it is sent to a leader: the state
// machine applies a repeated ID once (fsm.DedupRetention), which is what
// makes re-sending a write to a new leader safe (relay). The ID travels in
// the request's context and, between nodes, in X-Tokend-Request-ID,
// vouched for with the node secret when one is set.

// requestIDKey is the context key of a write's request ID.
type requestIDKey struct{}

// withRequestID returns ctx carrying id.
func withRequestID(ctx context.Context, id fsm.RequestID) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// requestIDIn returns the request ID ctx carries, if any.
func requestIDIn(ctx context.Context) (fsm.RequestID, bool) {
	id, ok := ctx.Value(requestIDKey{}).(fsm.RequestID)
	return id, ok
}

// requestIDOf returns the request ID ctx carries, or a fresh one.
func requestIDOf(ctx context.Context) fsm.RequestID {
	if id, ok := requestIDIn(ctx); ok {
		return id
	}
	return newRequestID()
}

// adoptRequestID returns r carrying the request ID a forwarding node sent
// in X-Tokend-Request-ID, or r itself when it has none. An ID that is
// malformed (400) or not vouched for with the node secret (403) is refused:
// a client must not choose the ID its write is deduplicated under.
func (s *Server) adoptRequestID(r *http.Request) (*http.Request, error) {
	v := r.Header.Get(headerRequestID)
	if v == "" {
		return r, nil
	}
	text, mac, _ := strings.Cut(v, ";")
	var id fsm.RequestID
	b, err := hex.DecodeString(text)
	if err != nil || len(b) != len(id) {
		return r, illegalArgument("header [" + headerRequestID + "] does not hold a request ID")
	}
	copy(id[:], b)
	if s.cfg.NodeSecret != "" && !hmac.Equal([]byte(mac), []byte(s.requestIDMAC(text))) {
		return r, &esError{status: http.StatusForbidden, typ: "security_exception",
			reason: "header [" + headerRequestID + "] is reserved to cluster nodes"}
	}
	return r.WithContext(withRequestID(r.Context(), id)), nil
}

// setRequestID puts id on req, a request to another node, with its MAC
// under the node secret when one is set.
func (s *Server) setRequestID(req *http.Request, id fsm.RequestID) {
	v := hex.EncodeToString(id[:])
	if s.cfg.NodeSecret != "" {
		v += ";" + s.requestIDMAC(v)
	}
	req.Header.Set(headerRequestID, v)
}

// requestIDMAC authenticates a forwarded request ID under the node secret.
func (s *Server) requestIDMAC(id string) string {
	m := hmac.New(sha256.New, []byte(s.cfg.NodeSecret))
	m.Write([]byte("tokend/v1 request-id " + id))
	return hex.EncodeToString(m.Sum(nil))
}
