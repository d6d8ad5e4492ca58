package cluster

import (
	"context"
	"crypto/rand"

	"github.com/tokend/tokend/fsm"
)

// Headers between nodes, which the HTTP edge reads and this package writes.
const (
	// HeaderForwarded names the node that sent a request on a client's
	// behalf or its own.
	HeaderForwarded = "X-Tokend-Forwarded"
	// HeaderServedBy names the leader that answered a forwarded request.
	HeaderServedBy = "X-Tokend-Served-By"
	// HeaderAppliedIndex is the log index of the leader's write: a
	// forwarding follower applies it before it answers.
	HeaderAppliedIndex = "X-Tokend-Applied-Index"
	// HeaderNodeAuth carries a node's proof (peerauth.Sign).
	HeaderNodeAuth = "X-Tokend-Node-Auth"
	// HeaderNodeSecret is the retired header that carried the node secret
	// itself; it is never sent.
	HeaderNodeSecret = "X-Tokend-Node-Secret"
	// HeaderClientAddr is the client address a node vouches for.
	HeaderClientAddr = "X-Tokend-Client-Addr"
	// HeaderRequestID is a write's request ID, chosen by the node that
	// first received it (see WithRequestID).
	HeaderRequestID = "X-Tokend-Request-ID"
	// HeaderEnrollment carries an enrollment token's one-time credential.
	HeaderEnrollment = "X-Tokend-Enrollment"
)

// Node-to-node routes of the HTTP edge that this package calls.
const (
	// PathJoin admits a node (JoinRequest, JoinAnswer).
	PathJoin = "/_tokend/cluster/join"
	// PathStatus answers a node's Status.
	PathStatus = "/_tokend/cluster/status"
	// PathReadIndex answers the leader's read index (Reads.ServeReadIndex).
	PathReadIndex = "/_tokend/cluster/read_index"
	// PathWaitApplied answers once an index is applied or fenced
	// (Reads.WaitApplied).
	PathWaitApplied = "/_tokend/cluster/wait_applied"
	// PathPropose takes a follower's batch of token creations
	// (ProposeRequest) and answers their results (ProposeResponse).
	PathPropose = "/_tokend/cluster/propose"
	// MsgpackType is the media type of PathPropose's bodies.
	MsgpackType = "application/msgpack"
)

// MaxBatch is the most commands sent as one batch: one Raft entry of about
// 40 KiB of token creations.
const MaxBatch = 256

// ProposeRequest is the body of POST PathPropose: commands as fsm.Encode
// wrote them.
type ProposeRequest struct {
	Entries [][]byte `msgpack:"e"` // one encoded command each
}

// ProposeResponse answers it: one result per command, in order.
type ProposeResponse struct {
	Results []fsm.Result `msgpack:"r"` // one per command
}

// A write keeps one request ID from the node that first receives it to the
// proposal that commits it, however often it is sent to a leader: the state
// machine applies a repeated ID once (fsm.DedupRetention), which is what
// makes sending a write again to a new leader safe (Forwarder.Relay). The ID
// travels in the request's context and, between nodes, in
// HeaderRequestID, which only a node's authenticated request may carry.

// requestIDKey is the context key of a write's request ID.
type requestIDKey struct{}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id fsm.RequestID) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDIn returns the request ID ctx carries, if any.
func RequestIDIn(ctx context.Context) (fsm.RequestID, bool) {
	id, ok := ctx.Value(requestIDKey{}).(fsm.RequestID)
	return id, ok
}

// requestIDOf returns the request ID ctx carries, or a fresh one.
func requestIDOf(ctx context.Context) fsm.RequestID {
	if id, ok := RequestIDIn(ctx); ok {
		return id
	}
	return NewRequestID()
}

// NewRequestID returns a fresh ID for one client request's proposal.
func NewRequestID() fsm.RequestID {
	var id fsm.RequestID
	_, _ = rand.Read(id[:])
	return id
}
