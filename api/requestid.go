package api

import (
	"encoding/hex"
	"net/http"

	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode/cluster"
)

// A write keeps one request ID from the node that first receives it to the
// proposal that commits it (cluster.WithRequestID); between nodes it
// travels in X-Tokend-Request-ID, which only a node's authenticated request
// may carry.

// adoptRequestID returns r carrying the request ID a forwarding node sent
// in X-Tokend-Request-ID, or r itself when it has none. Only a node may
// choose the ID (the header is covered by nothing else, so a client must
// not set the ID its write is deduplicated under): from anyone else it is
// refused (403), and a malformed one too (400).
func adoptRequestID(r *http.Request) (*http.Request, error) {
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
	return r.WithContext(cluster.WithRequestID(r.Context(), id)), nil
}
