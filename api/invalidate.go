package api

import (
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
)

// invalidateRequest is the body of DELETE /_security/oauth2/token.
type invalidateRequest struct {
	Token        string `json:"token"`
	RefreshToken string `json:"refresh_token"`
	RealmName    string `json:"realm_name"`
	Username     string `json:"username"`
}

// invalidateResponse answers an invalidation. Created is set on the 6.x path
// only: true when at least one token was newly invalidated.
type invalidateResponse struct {
	Created     *bool `json:"created,omitempty"`
	Invalidated int   `json:"invalidated_tokens"`
	Previously  int   `json:"previously_invalidated_tokens"`
	ErrorCount  int   `json:"error_count"`
}

// command validates q as Elasticsearch's InvalidateTokenRequest does and
// returns the Invalidate it asks for.
func (q *invalidateRequest) command() (*fsm.Invalidate, error) {
	if q.Token != "" && q.RefreshToken != "" {
		return nil, illegalArgument("only one of [token, refresh_token] may be sent per request")
	}
	byToken := q.Token != "" || q.RefreshToken != ""
	switch {
	case q.Username != "" || q.RealmName != "":
		if byToken {
			return nil, validationFailed("token string must not be provided when realm name or username is specified",
				"token type must not be provided when realm name or username is specified")
		}
		if q.Username == "" {
			return &fsm.Invalidate{By: fsm.ByRealm, Realm: q.RealmName}, nil
		}
		return &fsm.Invalidate{By: fsm.ByUser, Username: q.Username, Realm: q.RealmName}, nil
	case !byToken:
		return nil, validationFailed("token string must be provided when not specifying a realm name or a username")
	case q.Token != "":
		d, ok := credentials.ParseToken(credentials.AccessPrefix, q.Token)
		return &fsm.Invalidate{By: fsm.ByAccessToken, Token: d}, boolErr(ok)
	}
	d, ok := credentials.ParseToken(credentials.RefreshPrefix, q.RefreshToken)
	return &fsm.Invalidate{By: fsm.ByRefreshToken, Token: d}, boolErr(ok)
}

// errNoSuchToken marks a malformed token, which is answered as unknown.
var errNoSuchToken = notFound("token not found")

func boolErr(ok bool) error {
	if ok {
		return nil
	}
	return errNoSuchToken
}

// invalidateToken serves DELETE /_security/oauth2/token and its 6.x path
// (leader). Holding a token or refresh token is enough to invalidate it;
// invalidating by username or realm needs the manage_token privilege.
func (s *tokenRoutes) invalidateToken(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var q invalidateRequest
	if err := decodeBody(r, &q); err != nil {
		return err
	}
	c, err := q.command()
	switch {
	case err == errNoSuchToken:
		s.writeInvalidated(w, r, http.StatusNotFound, fsm.Result{})
		return nil
	case err != nil:
		return err
	case c.By == fsm.ByUser || c.By == fsm.ByRealm:
		if _, err := s.gate.authorize(r, "cluster:admin/xpack/security/token/invalidate", privManageToken); err != nil {
			return err
		}
	}
	if done, err := s.invalidateLocally(w, r, c); done || err != nil {
		return err
	}
	res, index, err := s.commits.propose(r.Context(), w, c)
	if err != nil {
		return err
	}
	// Tokens found invalidated before (by username or realm) were so at an
	// index up to this one: waiting for it covers them too.
	s.revocations.Await(r.Context(), index)
	status := http.StatusOK
	if res.Status == fsm.NotFound && (c.By == fsm.ByAccessToken || c.By == fsm.ByRefreshToken) {
		status = http.StatusNotFound
	}
	s.writeInvalidated(w, r, status, res)
	return nil
}

// invalidateLocally answers an invalidation by token from the leader's state
// when there is nothing to write: an unknown token (after catching up, so a
// token issued under an earlier leader is found) or one already invalidated.
// That keeps garbage out of the log. A token found invalidated is answered
// as a new invalidation is (awaitRevoked).
func (s *tokenRoutes) invalidateLocally(w http.ResponseWriter, r *http.Request, c *fsm.Invalidate) (bool, error) {
	lookup := func() (found, invalidated bool) {
		if c.By == fsm.ByAccessToken {
			t, ok := s.state.AccessToken(c.Token)
			return ok, t.Invalidated
		}
		t, ok := s.state.RefreshToken(c.Token)
		return ok, t.Invalidated
	}
	if c.By != fsm.ByAccessToken && c.By != fsm.ByRefreshToken {
		return false, nil
	}
	found, invalidated := lookup()
	if !found {
		if err := s.reads.CatchUp(r.Context()); err != nil {
			return true, err
		}
		found, invalidated = lookup()
	}
	switch {
	case !found:
		s.writeInvalidated(w, r, http.StatusNotFound, fsm.Result{})
	case invalidated:
		s.commits.awaitRevoked(r.Context(), w)
		s.writeInvalidated(w, r, http.StatusOK, fsm.Result{Previously: 1})
	default:
		return false, nil
	}
	return true, nil
}

// writeInvalidated answers the counts of res in the 7.x shape, or the 6.x
// shape (with created) on the /_xpack path.
func (s *tokenRoutes) writeInvalidated(w http.ResponseWriter, r *http.Request, status int, res fsm.Result) {
	out := invalidateResponse{Invalidated: res.Invalidated, Previously: res.Previously}
	if strings.HasPrefix(r.URL.Path, "/_xpack/") {
		created := res.Invalidated > 0
		out.Created = &created
	}
	writeJSON(w, r, status, out)
}
