package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// actionStatus is named in 403 answers of GET /_tokend/cluster/status.
const actionStatus = "cluster:monitor/tokend/status"

// status serves GET /_tokend/cluster/status: this node's own view, answered
// even without a leader, to a node (see peerOf) or a user with monitor.
func (s *clusterRoutes) status(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if peerOf(r) == nil {
		if _, err := s.gate.authorizeMonitoring(r, actionStatus, privMonitor); err != nil {
			return err
		}
	}
	writeJSON(w, r, http.StatusOK, s.members.LocalStatus())
	return nil
}
