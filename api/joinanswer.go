package api

import (
	"net/http"
)

// JoinAnswer is the answer to POST /_tokend/cluster/join.
type JoinAnswer struct {
	Acknowledged bool `json:"acknowledged"`
	// NodeCredential is the cluster's node credential, by which members
	// authenticate each other's Raft connections and node-to-node calls.
	// Only a joiner the route authenticated (node secret, cluster
	// certificate, enrollment token or superuser) gets an answer at all. It is sent even to a
	// joiner that presented the node secret, which then learns nothing new
	// (and can check that its --node-secret is the cluster's). Empty when
	// the answering leader knows none.
	NodeCredential string `json:"node_credential,omitempty"`
	// URL is the join URL of the member that answered (not sent).
	URL string `json:"-"`
}

// joinAnswer is the leader's answer to a join it has performed.
func (s *Server) joinAnswer() JoinAnswer {
	a := JoinAnswer{Acknowledged: true}
	if secret, ok := s.cfg.Credential.Secret(); ok {
		a.NodeCredential = string(secret)
	}
	return a
}

// writeJoinAnswer writes the answer; the credential in it must not be
// cached by anything between the nodes.
func (s *Server) writeJoinAnswer(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, r, http.StatusOK, s.joinAnswer())
}
