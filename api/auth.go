package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tokend/tokend/api/audit"
	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
)

// WWW-Authenticate challenges (RFC 7617, RFC 6750), as Elasticsearch sends
// them.
const (
	challengeBasic     = `Basic realm="security" charset="UTF-8"`
	challengeBearer    = `Bearer realm="security"`
	challengeExpired   = `Bearer realm="security", error="invalid_token", error_description="The access token expired"`
	challengeMalformed = `Bearer realm="security", error="invalid_token", error_description="The access token is malformed"`
	challengeInvalid   = `Bearer realm="security", error="invalid_token"`
	challengeTwoCreds  = `Bearer realm="security", error="invalid_request", error_description="The request carries more than one set of credentials"`
)

// Authentication failures that do not depend on the request.
var (
	errTokenExpired   = unauthorized("token expired", challengeExpired)
	errTokenMalformed = unauthorized("token malformed", challengeMalformed)
	errTokenUnknown   = unauthorized("unable to authenticate with provided credentials", challengeInvalid)
	errTwoCredentials = &esError{status: http.StatusBadRequest, typ: "illegal_argument_exception",
		reason: "a request may carry only one set of credentials (Basic or Bearer)", challenges: []string{challengeTwoCreds}}
	// errBadHeader is the 401 for a Basic header that does not decode.
	errBadHeader = unauthorized("invalid basic authentication header value")
)

// unauthorized is a 401 security_exception; without challenges it offers
// Basic and Bearer.
func unauthorized(reason string, challenges ...string) *esError {
	if len(challenges) == 0 {
		challenges = []string{challengeBasic, challengeBearer}
	}
	return &esError{status: http.StatusUnauthorized, typ: "security_exception", reason: reason, challenges: challenges}
}

// Authentication types reported by _authenticate.
const (
	authTypeRealm = "realm"
	authTypeToken = "token"
)

// principal is an authenticated caller. Its user may share memory with the
// state (fsm.FSM.SharedUser) and is never modified.
type principal struct {
	user     fsm.User
	realm    fsm.Realm // the realm that authenticated the user
	authType string
	token    fsm.Digest // the access token presented; zero for a password
	privs    privilege  // what the user's roles grant, resolved when authenticated
	expires  int64      // when that token expires (Unix ms); 0 for a password
}

// client is the caller's identity as recorded on tokens it creates.
func (p *principal) client() string { return p.user.Username + "/" + p.realm.Name }

// privilege is a set of cluster privileges.
type privilege uint8

// Cluster privileges; every authenticated user may authenticate and get,
// refresh or invalidate its own tokens.
const (
	privMonitor      privilege = 1 << iota // cluster health, nodes
	privManageToken                        // invalidate by username or realm
	privSuperuser                          // users, roles and cluster membership
	privReadSecurity                       // read users and roles
	privIntrospect                         // POST /oauth2/introspect (RFC 7662)
)

// privAll is every privilege.
const privAll = privMonitor | privManageToken | privSuperuser | privReadSecurity | privIntrospect

// rolePrivileges grants privileges per built-in role name. These roles are
// reserved: the roles API may not create, change or delete them.
var rolePrivileges = map[string]privilege{
	"superuser":          privAll,
	"monitoring_user":    privMonitor,
	"monitor":            privMonitor,
	"token_manager":      privManageToken,
	"token_introspector": privIntrospect,
}

// has reports whether p holds every privilege in want.
func (p *principal) has(want privilege) bool {
	return p.privs&want == want
}

// authorize authenticates r and checks that the caller holds want, naming
// action (Elasticsearch's action name) in a 403.
func (s *gate) authorize(r *http.Request, action string, want privilege) (*principal, error) {
	p, err := s.authenticate(r)
	if err != nil {
		return nil, err
	}
	if !p.has(want) {
		s.auditRequest(r, audit.ActionAccessDenied, p, "", action)
		return nil, forbidden(action, p)
	}
	s.auditRequest(r, audit.ActionAccessGranted, p, "", action)
	return p, nil
}

// forbidden is the 403 for a caller lacking the privilege for action.
func forbidden(action string, p *principal) error {
	return &esError{status: http.StatusForbidden, typ: "security_exception",
		reason: fmt.Sprintf("action [%s] is unauthorized for user [%s]", action, p.user.Username)}
}

// authenticate requires credentials on r.
func (s *gate) authenticate(r *http.Request) (*principal, error) {
	p, err := s.optionalAuth(r)
	if err == nil && p == nil {
		s.auditRequest(r, audit.ActionAnonymousDenied, nil, "", "")
		err = unauthorized(fmt.Sprintf("missing authentication credentials for REST request [%s]", echoed(r.URL.RequestURI())))
	}
	return p, err
}

// optionalAuth authenticates r's credentials if it carries any; (nil, nil)
// when it carries none (or only a scheme tokend does not know).
func (s *gate) optionalAuth(r *http.Request) (*principal, error) {
	scheme, value, err := parseAuthorization(r)
	if err != nil {
		s.auditAuthFailure(r, err, "")
		return nil, err
	}
	if scheme != "basic" && scheme != "bearer" {
		return nil, nil
	}
	if err := s.reads.CheckFresh(r.Context()); err != nil {
		return nil, err
	}
	var p *principal
	user := ""
	if scheme == "bearer" {
		p, err = s.authBearer(r.Context(), value)
	} else {
		p, user, err = s.authBasic(r, value)
	}
	if err != nil {
		s.auditAuthFailure(r, err, user)
		return nil, err
	}
	s.auditRequest(r, audit.ActionAuthenticationSuccess, p, "", "")
	return p, nil
}

// parseAuthorization returns the lower-case scheme and the credentials of
// the Authorization header ("" if absent). Two headers, or two schemes folded
// into one header, are refused.
func parseAuthorization(r *http.Request) (scheme, value string, err error) {
	vals := r.Header.Values("Authorization")
	switch {
	case len(vals) == 0:
		return "", "", nil
	case len(vals) > 1:
		return "", "", errTwoCredentials
	}
	scheme, value, _ = strings.Cut(strings.TrimSpace(vals[0]), " ")
	value = strings.TrimSpace(value)
	for rest, more := value, true; more; {
		var part string
		if _, rest, more = strings.Cut(rest, ","); more {
			part, _, _ = strings.Cut(strings.TrimSpace(rest), " ")
		}
		if strings.EqualFold(part, "basic") || strings.EqualFold(part, "bearer") {
			return "", "", errTwoCredentials
		}
	}
	return lowerScheme(scheme), value, nil
}

// lowerScheme is strings.ToLower(scheme), without allocating for the two
// schemes tokend serves. The lengths must match as well: EqualFold also
// folds non-ASCII letters such as "ſ" to "s", which ToLower keeps.
func lowerScheme(scheme string) string {
	switch {
	case len(scheme) == len("bearer") && strings.EqualFold(scheme, "bearer"):
		return "bearer"
	case len(scheme) == len("basic") && strings.EqualFold(scheme, "basic"):
		return "basic"
	}
	return strings.ToLower(scheme)
}

// authBearer authenticates an access token, catching up with the leader
// before calling an unknown token unknown.
func (s *gate) authBearer(ctx context.Context, tok string) (*principal, error) {
	d, ok := credentials.ParseToken(credentials.AccessPrefix, tok)
	if !ok {
		s.meter.authFailed(failMalformed)
		return nil, errTokenMalformed
	}
	rec, found := s.state.AccessToken(d)
	if !found {
		if err := s.reads.CatchUp(ctx); err != nil {
			return nil, err
		}
		if rec, found = s.state.AccessToken(d); !found {
			s.meter.authFailed(failUnknown)
			return nil, errTokenUnknown
		}
	}
	u, ok := s.state.SharedUser(rec.User) // read-only: see principal
	if reason, failed := tokenFailure(rec, u, ok, s.clock.Now()); failed {
		s.meter.authFailed(reason)
		return nil, errTokenExpired
	}
	return &principal{user: u, realm: rec.Realm, authType: authTypeToken, token: d, expires: rec.Expires,
		privs: s.roles.grant(s.state, u.Roles)}, nil
}

// tokenFailure says why a stored access token of user u (found or not)
// cannot be used at now (Unix ms), if it cannot.
func tokenFailure(rec fsm.AccessToken, u fsm.User, userFound bool, now int64) (authFailure, bool) {
	switch {
	case rec.Invalidated:
		return failInvalidated, true
	case now >= rec.Expires:
		return failExpired, true
	case !userFound:
		return failUnknown, true
	case !u.Enabled:
		return failDisabled, true
	}
	return 0, false
}

// authBasic authenticates Basic credentials; it also returns the user name
// they claim, for the audit trail.
func (s *gate) authBasic(r *http.Request, value string) (*principal, string, error) {
	name, password, ok := decodeBasic(value)
	if !ok {
		s.meter.authFailed(failMalformed)
		return nil, "", errBadHeader
	}
	u, err := s.checkPassword(r, name, password)
	if errors.Is(err, credentials.ErrBadCredentials) {
		return nil, name, unauthorized(fmt.Sprintf("unable to authenticate user [%s] for REST request [%s]", echoed(name), echoed(r.URL.RequestURI())))
	}
	if err != nil {
		return nil, name, err
	}
	return &principal{user: u, realm: realmOf(u), authType: authTypeRealm, privs: s.roles.grant(s.state, u.Roles)}, name, nil
}

// basicOnStack bounds the Basic credentials decodeBasic decodes in arrays
// on the stack; longer ones are decoded on the heap.
const basicOnStack = 256

// decodeBasic splits the base64 credentials of a Basic header into user
// name and password (RFC 7617); ok is false if they do not decode or hold
// no colon.
func decodeBasic(value string) (name, password string, ok bool) {
	var raw []byte
	var err error
	var text [basicOnStack]byte
	var out [basicOnStack * 3 / 4]byte
	if len(value) <= len(text) {
		var n int
		n, err = base64.StdEncoding.Decode(out[:], text[:copy(text[:], value)])
		raw = out[:n]
	} else {
		raw, err = base64.StdEncoding.DecodeString(value)
	}
	name, password, ok = strings.Cut(string(raw), ":")
	return name, password, ok && err == nil
}

// realmOf is the realm a user authenticates against.
func realmOf(u fsm.User) fsm.Realm {
	if u.Realm == (fsm.Realm{}) {
		return fsm.NativeRealm
	}
	return u.Realm
}
