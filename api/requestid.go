package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/tokend/tokend/fsm"
)

// A write keeps one request ID from the node that first receives it to the
// proposal that commits it, however often it is sent to a leader: the state
// machine applies a repeated ID once (fsm.DedupRetention), which is what
// makes re-sending a write to a new leader safe (relay). The ID travels in
// the request's context and, between nodes, in X-Tokend-Request-ID, which
// only a node's authenticated request may carry.

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

// newRequestID returns a fresh ID for one client request's proposal.
func newRequestID() fsm.RequestID {
	var id fsm.RequestID
	_, _ = rand.Read(id[:])
	return id
}

// requestIDOf returns the request ID ctx carries, or a fresh one.
func requestIDOf(ctx context.Context) fsm.RequestID {
	if id, ok := requestIDIn(ctx); ok {
		return id
	}
	return newRequestID()
}

// adoptRequestID returns r carrying the request ID a forwarding node sent
// in X-Tokend-Request-ID, or r itself when it has none. Only a node may
// choose the ID (the header is covered by nothing else, so a client must
// not set the ID its write is deduplicated under): from anyone else it is
// refused (403), and a malformed one too (400).
func (s *Server) adoptRequestID(r *http.Request) (*http.Request, error) {
	v := r.Header.Get(headerRequestID)
	if v == "" {
		return r, nil
	}
	if peerOf(r) == nil {
		return r, &esError{status: http.StatusForbidden, typ: "security_exception",
			reason: "header [" + headerRequestID + "] is reserved to cluster nodes"}
	}
	var id fsm.RequestID
	b, err := hex.DecodeString(v)
	if err != nil || len(b) != len(id) {
		return r, illegalArgument("header [" + headerRequestID + "] does not hold a request ID")
	}
	copy(id[:], b)
	return r.WithContext(withRequestID(r.Context(), id)), nil
}
