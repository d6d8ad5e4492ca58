package api

import (
	"net/http"
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

// introspect serves POST /oauth2/introspect (RFC 7662) on any node, from
// its own state under the rules token checks follow: a token it does not
// find is looked for again after catching up with the leader, and a node
// that cannot know answers 503, never active:false for a live token. The
// caller needs the introspect_token privilege.
func (s *tokenRoutes) introspect(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if _, err := s.gate.authorize(r, actionIntrospect, privIntrospect); err != nil {
		return err
	}
	tok, err := tokenForm(r)
	if err != nil {
		return err
	}
	// no-store keeps the identity out of caches; RFC 7662 asks for no
	// more (Pragma is HTTP/1.0's and RFC 6749's token answers' only).
	w.Header()["Cache-Control"] = noStoreValue
	p := getScratch()
	body, err := s.introspection(*p, r, tok)
	if err == nil {
		writeJSONBody(w, http.StatusOK, body)
	}
	putScratch(p, body)
	return err
}

// introspection appends the encoded RFC 7662 answer for tok to b.
func (s *tokenRoutes) introspection(b []byte, r *http.Request, tok string) ([]byte, error) {
	if d, ok := credentials.ParseToken(credentials.AccessPrefix, tok); ok {
		rec, found, err := lookupFresh(s, r, d, s.state.AccessToken)
		if err != nil || !found {
			return append(b, inactiveBody...), err
		}
		u, ok := s.state.SharedUser(rec.User)
		if _, failed := tokenFailure(rec, u, ok, s.clock.Now()); failed {
			return append(b, inactiveBody...), nil
		}
		client := clientID{name: rec.User, realm: rec.Realm.Name, ofUser: true} // client_credentials: the user itself
		if !rec.Family.IsZero() {
			client = clientID{}
			if fam, ok := s.state.RefreshToken(rec.Family); ok {
				client = clientID{name: fam.Client}
			}
		}
		return appendActive(b, typeAccessToken, u, rec.Realm, rec.Created, rec.Expires, client), nil
	}
	if d, ok := credentials.ParseToken(credentials.RefreshPrefix, tok); ok {
		rec, found, err := lookupFresh(s, r, d, s.state.RefreshToken)
		if err != nil || !found {
			return append(b, inactiveBody...), err
		}
		u, ok := s.state.SharedUser(rec.User)
		if rec.Invalidated || rec.UsedAt != 0 || s.clock.Now() >= rec.Expires() || !ok || !u.Enabled {
			return append(b, inactiveBody...), nil
		}
		return appendActive(b, typeRefreshToken, u, rec.Realm, rec.Created, rec.Expires(), clientID{name: rec.Client}), nil
	}
	return append(b, inactiveBody...), nil
}

// clientID is the RFC 7662 client_id of a token, kept in parts so that
// answering does not build the string: name/realm for the caller of a
// client_credentials grant (ofUser), else the recorded client name; an
// empty one is left out.
type clientID struct {
	name, realm string
	ofUser      bool
}

// empty reports whether c is no client ID.
func (c clientID) empty() bool { return !c.ofUser && c.name == "" }

// appendJSON appends the client ID as a JSON string.
func (c clientID) appendJSON(b []byte) []byte {
	switch {
	case !c.ofUser:
		return appendJSONString(b, c.name)
	case !jsonPlain(c.name) || !jsonPlain(c.realm):
		return appendJSONString(b, c.name+"/"+c.realm)
	}
	return append(append(append(append(append(b, '"'), c.name...), '/'), c.realm...), '"')
}

// lookupFresh finds the record of d with get, catching up with the leader
// before it calls d unknown.
func lookupFresh[T any](s *tokenRoutes, r *http.Request, d fsm.Digest, get func(fsm.Digest) (T, bool)) (T, bool, error) {
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
func appendActive(b []byte, typ string, u fsm.User, realm fsm.Realm, created, expires int64, client clientID) []byte {
	b = appendJSONString(append(b, `{"active":true,"token_type":`...), typ)
	b = appendJSONString(append(b, `,"username":`...), u.Username)
	b = appendJSONString(append(b, `,"sub":`...), u.Username)
	b = strconv.AppendInt(append(b, `,"exp":`...), expires/1000, 10)
	b = strconv.AppendInt(append(b, `,"iat":`...), created/1000, 10)
	b = appendJSONString(append(b, `,"scope":`...), introspectScope)
	if !client.empty() {
		b = client.appendJSON(append(b, `,"client_id":`...))
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
