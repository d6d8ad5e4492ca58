package api

import (
	"net/http"

	"github.com/tokend/tokend/raftnode/cluster"
)

// withDiskCondition names the disk in a 503 answer given while this node's
// disk refuses writes: that, not the election or the quorum the answer
// would otherwise name, is why it cannot serve. raftnode logs the
// condition once when it starts, so these answers are not logged again.
func (s *Server) withDiskCondition(e *esError) *esError {
	if e.status != http.StatusServiceUnavailable {
		return e
	}
	st := s.node.Stats()
	reason := cluster.DiskReason(st.DiskError, st.DiskErrorSince)
	if reason == "" {
		return e
	}
	named := *e
	named.reason, named.quiet, named.retry = reason, true, true
	return &named
}
