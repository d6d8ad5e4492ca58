package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/tokend/tokend/raftnode"
	"github.com/tokend/tokend/raftnode/cluster"
)

// esError is an error answered in Elasticsearch's envelope. Its reason is
// written to clients and logs, so it never contains a password or a token.
type esError struct {
	status int
	typ    string
	reason string
	// challenges are WWW-Authenticate values, in order.
	challenges []string
	// retry adds Retry-After: the condition is transient.
	retry bool
	// retryAfter is Retry-After in seconds when retry is set; 0 means 1.
	retryAfter int
	// quiet marks an answer that is routine for its route (a readiness
	// probe's 503): it is logged at debug level, not as a failure.
	quiet bool
}

// Error returns the type and reason.
func (e *esError) Error() string { return e.typ + ": " + e.reason }

// oauthError is a token endpoint request or grant error: 400 with exactly the
// keys error and error_description (RFC 6749 §5.2).
type oauthError struct {
	code        string
	description string
}

// Error returns the code and description.
func (e *oauthError) Error() string { return e.code + ": " + e.description }

// fromNode marks a non-nil error from the Node as a cluster condition
// (cluster.NodeError), answered 503 so that clients retry on another node.
func fromNode(err error) error { return cluster.FromNode(err) }

// Constructors for the envelope types used across the package.
func badRequest(typ, reason string) *esError {
	return &esError{status: http.StatusBadRequest, typ: typ, reason: reason}
}

func parseError(reason string) *esError { return badRequest("parse_exception", reason) }

func illegalArgument(reason string) *esError {
	return badRequest("illegal_argument_exception", reason)
}

func validationFailed(msgs ...string) *esError {
	return badRequest("action_request_validation_exception", validationText(msgs))
}

func notFound(reason string) *esError {
	return &esError{status: http.StatusNotFound, typ: "resource_not_found_exception", reason: reason}
}

func unavailable(typ, reason string) *esError {
	return &esError{status: http.StatusServiceUnavailable, typ: typ, reason: reason, retry: true}
}

// validationText renders messages as Elasticsearch's validation exception
// does: "Validation Failed: 1: a;2: b;".
func validationText(msgs []string) string {
	s := "Validation Failed: "
	for i, m := range msgs {
		s += strconv.Itoa(i+1) + ": " + m + ";"
	}
	return s
}

// classify is the one place that maps an error to a status and envelope.
func classify(err error) *esError {
	if e := envelopeOf(err); e != nil {
		return e
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return &esError{status: http.StatusRequestEntityTooLarge, typ: "content_too_long_exception",
			reason: "request body is larger than " + strconv.FormatInt(tooBig.Limit, 10) + " bytes"}
	case errors.Is(err, raftnode.ErrNoLeader):
		return unavailable("master_not_discovered_exception", "no leader is elected")
	case errors.Is(err, raftnode.ErrNotLeader):
		return unavailable("not_master_exception", "this node lost leadership during the request")
	case errors.Is(err, raftnode.ErrShutdown):
		return unavailable("node_closed_exception", "node is shutting down")
	case errors.Is(err, raftnode.ErrIndeterminate):
		return unavailable("status_exception", "the outcome of the request is unknown; retry it")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return unavailable("process_cluster_event_timeout_exception", "timed out waiting for the cluster")
	}
	var ne *cluster.NodeError
	if errors.As(err, &ne) {
		return unavailable("status_exception", "the cluster is unavailable")
	}
	return &esError{status: http.StatusInternalServerError, typ: "exception", reason: "internal server error"}
}

// envelopeOf returns the answer err names itself: an esError, or the
// answer to a coordination error (fromCluster); nil for any other error.
func envelopeOf(err error) *esError {
	var e *esError
	if errors.As(err, &e) {
		return e
	}
	return fromCluster(err)
}

// fromCluster maps the coordination's errors (package cluster) to their
// answers, or returns nil for any other error. Every one is a 503 with
// Retry-After but the leader's own 429, which passes through, and a join
// the membership rules refuse (400).
func fromCluster(err error) *esError {
	var rule *cluster.RefusedError
	var noLeader *cluster.NoLeaderError
	var unreachable *cluster.LeaderUnreachableError
	var addrUnknown *cluster.LeaderAddrUnknownError
	var refused *cluster.LeaderRefusedError
	var legacy *cluster.LegacyLeaderError
	var fence *cluster.FenceError
	switch {
	case errors.As(err, &rule):
		return joinRefusal(rule)
	case errors.Is(err, cluster.ErrNoNewLeader):
		return unavailable("master_not_discovered_exception", cluster.ErrNoNewLeader.Error())
	case errors.As(err, &noLeader):
		return unavailable("master_not_discovered_exception", noLeader.Error())
	case errors.As(err, &unreachable):
		return unavailable("master_not_discovered_exception", fmt.Sprintf("leader [%s] is unreachable", unreachable.Leader))
	case errors.As(err, &addrUnknown):
		return unavailable("master_not_discovered_exception", addrUnknown.Error())
	case errors.As(err, &refused):
		return leaderRefusal(refused)
	case errors.As(err, &legacy):
		return unavailable("status_exception", fmt.Sprintf("leader [%s] takes no batches (an older build); retry", legacy.Leader))
	case errors.As(err, &fence):
		return unavailable("status_exception", fence.Error())
	case errors.Is(err, cluster.ErrLostContact):
		return unavailable("status_exception", cluster.ErrLostContact.Error())
	}
	return nil
}

// joinRefusal is the 400 for a join the membership rules refuse.
func joinRefusal(e *cluster.RefusedError) *esError {
	switch e.Why {
	case cluster.RefusedRemoved:
		return illegalArgument(fmt.Sprintf("node [%s] has Raft state but is not a member of the cluster: "+
			"it was removed; wipe its data dir and join again", e.NodeID))
	case cluster.RefusedLeaderID:
		return illegalArgument(fmt.Sprintf("node [%s] is the leader; a node with an empty data dir cannot take its ID", e.NodeID))
	}
	return illegalArgument(fmt.Sprintf("node [%s] is a voter and cannot become a replica: "+
		"remove it, wipe its data dir and join it again with --replica", echoed(e.NodeID)))
}

// leaderRefusal answers the leader's refusal of a node's call: the
// leader's own 503 (it lost leadership, or has no quorum) or 429 passes
// through; anything else is a misconfiguration between nodes (logged where
// it was seen), answered 503.
func leaderRefusal(e *cluster.LeaderRefusedError) *esError {
	if e.Status != http.StatusServiceUnavailable && e.Status != http.StatusTooManyRequests {
		return unavailable("status_exception", fmt.Sprintf("leader [%s] refused this node's request", e.Leader))
	}
	typ, reason := e.Type, e.Reason
	if typ == "" {
		typ, reason = "status_exception", fmt.Sprintf("leader [%s] answered %d", e.Leader, e.Status)
	}
	return &esError{status: e.Status, typ: typ, reason: reason, retry: true}
}

// causeJSON is one cause in the envelope.
type causeJSON struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// errorBodyJSON is the envelope's error object.
type errorBodyJSON struct {
	RootCause []causeJSON `json:"root_cause"`
	Type      string      `json:"type"`
	Reason    string      `json:"reason"`
}

// envelopeJSON is Elasticsearch's error body.
type envelopeJSON struct {
	Error  errorBodyJSON `json:"error"`
	Status int           `json:"status"`
}

// writeError answers err: an oauthError in the OAuth shape, anything else in
// the Elasticsearch envelope after classify. Server errors are logged.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *oauthError
	if errors.As(err, &oe) {
		writeJSON(w, r, http.StatusBadRequest, map[string]string{"error": oe.code, "error_description": oe.description})
		return
	}
	e := s.withDiskCondition(classify(err))
	switch {
	case e.quiet:
		s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", e.status, "reason", e.reason)
	case e.status >= 500:
		s.log.Warn("request failed", "method", r.Method, "path", r.URL.Path, "status", e.status, "err", err)
	case e.status == http.StatusUnauthorized:
		s.log.Debug("authentication failed", "path", r.URL.Path, "reason", e.reason)
	}
	h := w.Header()
	for _, c := range e.challenges {
		h.Add("WWW-Authenticate", c)
	}
	if e.retry {
		h.Set("Retry-After", retryAfterValue(e.retryAfter))
	}
	c := causeJSON{Type: e.typ, Reason: e.reason}
	writeJSON(w, r, e.status, envelopeJSON{
		Error:  errorBodyJSON{RootCause: []causeJSON{c}, Type: e.typ, Reason: e.reason},
		Status: e.status,
	})
}

// retryAfterValue renders seconds for Retry-After, at least 1.
func retryAfterValue(secs int) string { return strconv.Itoa(max(1, secs)) }
