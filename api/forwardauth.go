package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"
)

// Identity headers of a forward-authentication answer (GET /_tokend/auth).
const (
	headerAuthUser    = "X-Tokend-User"
	headerAuthRoles   = "X-Tokend-Roles"
	headerAuthRealm   = "X-Tokend-Realm"
	headerAuthExpires = "X-Tokend-Expires"
)

// forwardAuth serves GET /_tokend/auth for nginx auth_request and Caddy
// forward_auth: it authenticates the Authorization header of the original
// request, as _authenticate does, and answers 200 with an empty body and the
// identity in X-Tokend-User, X-Tokend-Roles (comma-separated),
// X-Tokend-Realm and, for a token, X-Tokend-Expires (Unix seconds). A
// failure is 401 with the RFC 6750 challenge for the gateway to pass on
// (without credentials: the Bearer challenge alone, not Basic as well),
// and a node that cannot know answers 503.
func (s *tokenRoutes) forwardAuth(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if len(r.Header.Values("Authorization")) == 0 {
		// Only the RFC 6750 challenge: nginx passes on one WWW-Authenticate.
		return unauthorized("missing authentication credentials for REST request ["+echoed(r.URL.RequestURI())+"]", challengeBearer)
	}
	p, err := s.gate.authenticate(r)
	if err != nil {
		return err
	}
	h := w.Header()
	// One array holds the four values; each header gets a slice of it
	// capped at its own value.
	vals := make([]string, 4)
	vals[0], vals[1], vals[2] = p.user.Username, strings.Join(p.user.Roles, ","), p.realm.Name
	h[headerAuthUser], h[headerAuthRoles], h[headerAuthRealm] = vals[0:1:1], vals[1:2:2], vals[2:3:3]
	if p.expires != 0 {
		vals[3] = strconv.FormatInt(p.expires/1000, 10)
		h[headerAuthExpires] = vals[3:4:4]
	}
	h["Cache-Control"] = noStoreValue
	h["Content-Length"] = zeroLengthValue
	w.WriteHeader(http.StatusOK)
	return nil
}

// forwardAuthMethods are the methods /_tokend/auth/*path answers: Envoy's
// ext_authz HTTP service sends its check with the original request's method
// and appends the original path to its path_prefix.
var forwardAuthMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions}

// Header values of forwardAuth's answer, shared so that setting them does
// not allocate (see productValue).
var (
	noStoreValue    = []string{"no-store"}
	zeroLengthValue = []string{"0"}
)
