package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
)

// revoke serves POST /oauth2/revoke (RFC 7009) on the leader; a follower
// relays it. Holding the token is the proof, as for DELETE by token. An
// access token is invalidated alone; a refresh token with its whole grant:
// every access and refresh token issued from it, before or after it
// (fsm.ByRefreshFamily). Unknown, malformed and already revoked tokens get
// the same 200 with an empty body (RFC 7009 §2.2). A 200 gives the guarantee
// DELETE gives: no node accepts a revoked token once it is answered.
func (s *tokenRoutes) revoke(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	tok, err := tokenForm(r)
	if err != nil {
		return err
	}
	c := &fsm.Invalidate{By: fsm.ByAccessToken}
	var ok bool
	if c.Token, ok = credentials.ParseToken(credentials.AccessPrefix, tok); !ok {
		c.By = fsm.ByRefreshFamily
		if c.Token, ok = credentials.ParseToken(credentials.RefreshPrefix, tok); !ok {
			return writeRevoked(w)
		}
	}
	if done, err := s.revokeLocally(w, r, c); done || err != nil {
		return err
	}
	_, index, err := s.commits.propose(r.Context(), w, c)
	if err != nil {
		return err
	}
	s.revocations.Await(r.Context(), index)
	return writeRevoked(w)
}

// revokeLocally answers a revocation with nothing to write: an unknown token
// (after catching up, so a token issued under an earlier leader is found),
// or an access token invalidated already, whose answer is held as the first
// one was (awaitRevoked). A refresh token is always revoked through the log:
// its grant may hold live tokens even when it is invalidated itself.
func (s *tokenRoutes) revokeLocally(w http.ResponseWriter, r *http.Request, c *fsm.Invalidate) (bool, error) {
	var found, invalidated bool
	if c.By == fsm.ByAccessToken {
		rec, ok, err := lookupFresh(s, r, c.Token, s.state.AccessToken)
		if err != nil {
			return true, err
		}
		found, invalidated = ok, rec.Invalidated
	} else {
		_, ok, err := lookupFresh(s, r, c.Token, s.state.RefreshToken)
		if err != nil {
			return true, err
		}
		found = ok
	}
	switch {
	case !found:
		return true, writeRevoked(w)
	case invalidated:
		s.commits.awaitRevoked(r.Context(), w)
		return true, writeRevoked(w)
	}
	return false, nil
}

// writeRevoked answers a revocation: 200 with an empty body.
func writeRevoked(w http.ResponseWriter) error {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return nil
}
