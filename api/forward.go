package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// leader adapts h to a write route: it runs on the leader; any other node
// first authenticates the credentials the request carries, if any, then
// proxies it to the leader and answers with the leader's response
// (forwarder.Forward).
func (s *Server) leader(h handlerFunc) httprouter.Handle {
	return s.leaderWith(s.gate.authenticateAny, h)
}

// leaderWith is leader with check run on a follower before it forwards:
// a follower forwards, vouching for the client, only what check admits
// (h makes its own checks on the leader).
func (s *Server) leaderWith(check func(*http.Request) error, h handlerFunc) httprouter.Handle {
	local := s.local(h)
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		if s.node.IsLeader() {
			local(w, r, p)
			return
		}
		err := check(r)
		if err == nil {
			err = s.forwarder.Forward(w, r, clientAddr(r))
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	}
}

// leaderWrite adapts h, a write route that proposes one command, to run on
// the leader. A forwarding node's request ID is kept (adoptRequestID); a
// follower relays the request to the leader, and to the next one if the
// leader is lost meanwhile (relay).
func (s *Server) leaderWrite(h handlerFunc) httprouter.Handle {
	return s.local(func(w http.ResponseWriter, r *http.Request, p httprouter.Params) error {
		r, err := adoptRequestID(r)
		if err != nil {
			return err
		}
		if s.node.IsLeader() {
			return h(w, r, p)
		}
		return s.commits.relay(w, r, p, h)
	})
}
