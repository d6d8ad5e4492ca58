package api

import (
	"net/http"

	"github.com/tokend/tokend/raftnode/cluster"
)

// joinAnswer is the leader's answer to a join it has performed.
func (s *peerRoutes) joinAnswer() cluster.JoinAnswer {
	a := cluster.JoinAnswer{Acknowledged: true}
	if secret, ok := s.cfg.Credential.Secret(); ok {
		a.NodeCredential = string(secret)
	}
	return a
}

// writeJoinAnswer writes the answer; the credential in it must not be
// cached by anything between the nodes.
func (s *peerRoutes) writeJoinAnswer(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, r, http.StatusOK, s.joinAnswer())
}
