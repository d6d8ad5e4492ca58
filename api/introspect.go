package api

import (
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
)

// Gateway routes (RFC 7662, RFC 7009, RFC 8414 and forward authentication).
const (
	introspectPath  = "/oauth2/introspect"
	revokePath      = "/oauth2/revoke"
	metadataPath    = "/.well-known/oauth-authorization-server"
	forwardAuthPath = "/_tokend/auth"
)

// actionIntrospect is the action a 403 names for an introspection.
const actionIntrospect = "cluster:admin/xpack/security/token/introspect"

// Token type hints and token_type values (RFC 7009 §2.1, RFC 7662 §2.2).
const (
	typeAccessToken  = "access_token"
	typeRefreshToken = "refresh_token"
)

// inactiveBody is RFC 7662's answer for anything that is not a live token.
var inactiveBody = []byte(`{"active":false}`)

// introspectScope is the scope every tokend token carries: the full
// privileges of its user (Elasticsearch issues only "FULL").
const introspectScope = "FULL"

// tokenForm reads the form-encoded body of an introspection or revocation
// request (RFC 6749 §3.2): its token, required, and token_type_hint, which
// is only a hint: tokend tells the token types apart by their prefix, so an
// unknown hint is ignored (RFC 7009 §2.1).
func tokenForm(r *http.Request) (string, error) {
	body, err := readBody(r)
	if err != nil {
		return "", err
	}
	if len(body) > 0 {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return "", &oauthError{code: "invalid_request", description: "the body must be application/x-www-form-urlencoded"}
		}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", &oauthError{code: "invalid_request", description: "the body is not a valid form"}
	}
	for name, vals := range form {
		if len(vals) > 1 {
			return "", &oauthError{code: "invalid_request", description: "parameter [" + echoed(name) + "] is sent more than once"}
		}
	}
	tok := form.Get("token")
	if tok == "" {
		return "", &oauthError{code: "invalid_request", description: "token is missing"}
	}
	return tok, nil
}

// introspect serves POST /oauth2/introspect (RFC 7662) on any node, from
// its own state under the rules token checks follow: a token it does not
// find is looked for again after catching up with the leader, and a node
// that cannot know answers 503, never active:false for a live token. The
// caller needs the introspect_token privilege.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if _, err := s.authorize(r, actionIntrospect, privIntrospect); err != nil {
		return err
	}
	tok, err := tokenForm(r)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	body, err := s.introspection(r, tok)
	if err != nil {
		return err
	}
	writeJSONBody(w, http.StatusOK, body)
	return nil
}

// introspection is the encoded RFC 7662 answer for tok.
func (s *Server) introspection(r *http.Request, tok string) ([]byte, error) {
	if d, ok := credentials.ParseToken(credentials.AccessPrefix, tok); ok {
		rec, found, err := lookupFresh(s, r, d, s.state.AccessToken)
		if err != nil || !found {
			return inactiveBody, err
		}
		u, ok := s.state.SharedUser(rec.User)
		if _, failed := tokenFailure(rec, u, ok, s.clock.Now()); failed {
			return inactiveBody, nil
		}
		client := rec.User + "/" + rec.Realm.Name // client_credentials: the user itself
		if !rec.Family.IsZero() {
			client = ""
			if fam, ok := s.state.RefreshToken(rec.Family); ok {
				client = fam.Client
			}
		}
		return appendActive(nil, typeAccessToken, u, rec.Realm, rec.Created, rec.Expires, client), nil
	}
	if d, ok := credentials.ParseToken(credentials.RefreshPrefix, tok); ok {
		rec, found, err := lookupFresh(s, r, d, s.state.RefreshToken)
		if err != nil || !found {
			return inactiveBody, err
		}
		u, ok := s.state.SharedUser(rec.User)
		if rec.Invalidated || rec.UsedAt != 0 || s.clock.Now() >= rec.Expires() || !ok || !u.Enabled {
			return inactiveBody, nil
		}
		return appendActive(nil, typeRefreshToken, u, rec.Realm, rec.Created, rec.Expires(), rec.Client), nil
	}
	return inactiveBody, nil
}

// lookupFresh finds the record of d with get, catching up with the leader
// before it calls d unknown.
func lookupFresh[T any](s *Server, r *http.Request, d fsm.Digest, get func(fsm.Digest) (T, bool)) (T, bool, error) {
	rec, found := get(d)
	if !found {
		if err := s.reads.CatchUp(r.Context()); err != nil {
			return rec, false, err
		}
		rec, found = get(d)
	}
	return rec, found, nil
}

// appendActive appends the RFC 7662 answer for a live token of user u:
// the registered members plus the realm and roles as extensions. Times
// (Unix ms in the state) are seconds, as RFC 7662 wants.
func appendActive(b []byte, typ string, u fsm.User, realm fsm.Realm, created, expires int64, client string) []byte {
	b = appendJSONString(append(b, `{"active":true,"token_type":`...), typ)
	b = appendJSONString(append(b, `,"username":`...), u.Username)
	b = appendJSONString(append(b, `,"sub":`...), u.Username)
	b = strconv.AppendInt(append(b, `,"exp":`...), expires/1000, 10)
	b = strconv.AppendInt(append(b, `,"iat":`...), created/1000, 10)
	b = appendJSONString(append(b, `,"scope":`...), introspectScope)
	if client != "" {
		b = appendJSONString(append(b, `,"client_id":`...), client)
	}
	b = appendJSONString(append(b, `,"realm":`...), realm.Name)
	b = appendJSONString(append(b, `,"realm_type":`...), realm.Type)
	b = append(b, `,"roles":[`...)
	for i, role := range u.Roles {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, role)
	}
	return append(b, "]}"...)
}

// isFormPost reports whether r is a POST to a route that takes a form
// (RFC 7662, RFC 7009) instead of JSON.
func isFormPost(r *http.Request) bool {
	return r.Method == http.MethodPost && (r.URL.Path == introspectPath || r.URL.Path == revokePath)
}
