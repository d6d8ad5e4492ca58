package api

import (
	"net/http"
	"time"
)

// diskReason describes this node's disk condition (raftnode's DiskError)
// for an operator, or "" when raft.db accepts writes.
func diskReason(diskErr string, since time.Time) string {
	if diskErr == "" {
		return ""
	}
	return "this node's disk refuses writes since " + since.UTC().Format(time.RFC3339) + ": " + diskErr +
		"; free space or fix the device, and writes resume without a restart"
}

// withDiskCondition names the disk in a 503 answer given while this node's
// disk refuses writes: that, not the election or the quorum the answer
// would otherwise name, is why it cannot serve. raftnode logs the
// condition once when it starts, so these answers are not logged again.
func (s *Server) withDiskCondition(e *esError) *esError {
	if e.status != http.StatusServiceUnavailable {
		return e
	}
	st := s.node.Stats()
	reason := diskReason(st.DiskError, st.DiskErrorSince)
	if reason == "" {
		return e
	}
	named := *e
	named.reason, named.quiet, named.retry = reason, true, true
	return &named
}
