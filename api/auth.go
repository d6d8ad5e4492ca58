package api

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tokend/tokend/audit"
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
	// errBadCredentials is checkPassword's answer to a wrong password or an
	// unknown or disabled user; the caller words the 401.
	errBadCredentials = errors.New("api: bad credentials")
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
func (s *Server) authorize(r *http.Request, action string, want privilege) (*principal, error) {
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
func (s *Server) authenticate(r *http.Request) (*principal, error) {
	p, err := s.optionalAuth(r)
	if err == nil && p == nil {
		s.auditRequest(r, audit.ActionAnonymousDenied, nil, "", "")
		err = unauthorized(fmt.Sprintf("missing authentication credentials for REST request [%s]", echoed(r.URL.RequestURI())))
	}
	return p, err
}

// optionalAuth authenticates r's credentials if it carries any; (nil, nil)
// when it carries none (or only a scheme tokend does not know).
func (s *Server) optionalAuth(r *http.Request) (*principal, error) {
	scheme, value, err := parseAuthorization(r)
	if err != nil {
		s.auditAuthFailure(r, err, "")
		return nil, err
	}
	if scheme != "basic" && scheme != "bearer" {
		return nil, nil
	}
	if err := s.checkFresh(r.Context()); err != nil {
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
func (s *Server) authBearer(ctx context.Context, tok string) (*principal, error) {
	d, ok := parseToken(accessPrefix, tok)
	if !ok {
		s.meter.authFailed(failMalformed)
		return nil, errTokenMalformed
	}
	rec, found := s.state.AccessToken(d)
	if !found {
		if err := s.catchUp(ctx); err != nil {
			return nil, err
		}
		if rec, found = s.state.AccessToken(d); !found {
			s.meter.authFailed(failUnknown)
			return nil, errTokenUnknown
		}
	}
	u, ok := s.state.SharedUser(rec.User) // read-only: see principal
	if reason, failed := tokenFailure(rec, u, ok, s.clock.now()); failed {
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
func (s *Server) authBasic(r *http.Request, value string) (*principal, string, error) {
	name, password, ok := decodeBasic(value)
	if !ok {
		s.meter.authFailed(failMalformed)
		return nil, "", errBadHeader
	}
	u, err := s.checkPassword(r, name, password)
	if errors.Is(err, errBadCredentials) {
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

// checkPassword verifies a username and password sent with r:
// errBadCredentials for a wrong password or an unknown or disabled user,
// with a bcrypt comparison in every case so that timing does not tell them
// apart. Before failing it catches up with the leader, since the user or the
// password may be newer than this node's state.
//
// A username or client address out of failure budget gets a 429 without
// any check (authLimits). Each bcrypt comparison reserves one failure of
// both budgets before it runs (checkBudget), so that comparisons in flight
// count against them. The reservations are kept when the password was
// wrong, and when the request ended while it waited or compared (the
// comparison may have run); they are given back otherwise: on success, and
// when the check could not finish (no bcrypt slot, shutdown, no contact
// with the leader). A password the verify cache remembers for the user's
// current hash is accepted without a reservation, as no comparison runs.
func (s *Server) checkPassword(r *http.Request, name, password string) (fsm.User, error) {
	addr := s.clientAddr(r)
	if err := s.limits.blocked(name, addr); err != nil {
		s.meter.authRefused(refusedRateLimited)
		return fsm.User{}, err
	}
	if u, ok := s.state.SharedUser(name); ok && u.Enabled && len(u.Hash) > 0 && s.verify.remembers(name, u.Hash, password) {
		// What matchPassword answers for a remembered password, without
		// reserving a budget it would not spend.
		return u, nil
	}
	budget := s.limits.budget(name, addr)
	u, err := s.matchPassword(r.Context(), name, password, budget.reserve)
	var refused *esError
	switch {
	case errors.Is(err, errBadCredentials), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return u, err
	case errors.Is(err, errBcryptBusy):
		s.meter.authRefused(refusedBcryptBusy)
	case errors.As(err, &refused) && refused.status == http.StatusTooManyRequests:
		// Out of failure budget: this check's reservation, or that of an
		// identical check it joined (verifyFlights), was refused.
		s.meter.authRefused(refusedRateLimited)
	}
	budget.refund()
	return u, err
}

// matchPassword is checkPassword without the failure limits; reserve is
// called before each bcrypt comparison (verifyCache.check). The user it
// returns shares memory with the state (fsm.FSM.SharedUser): read only.
func (s *Server) matchPassword(ctx context.Context, name, password string, reserve func() error) (fsm.User, error) {
	u, found := s.state.SharedUser(name)
	if !found {
		if err := s.catchUp(ctx); err != nil {
			return fsm.User{}, err
		}
		u, found = s.state.SharedUser(name)
	}
	if ok, err := s.passwordMatches(ctx, name, u, found, password, reserve); ok || err != nil {
		return u, err
	}
	if !found {
		s.meter.authFailed(failUnknown)
		return fsm.User{}, errBadCredentials
	}
	if err := s.catchUp(ctx); err != nil {
		return fsm.User{}, err
	}
	fresh, ok := s.state.SharedUser(name)
	if ok && (fresh.Enabled != u.Enabled || subtle.ConstantTimeCompare(fresh.Hash, u.Hash) != 1) {
		if match, err := s.passwordMatches(ctx, name, fresh, true, password, reserve); match || err != nil {
			return fresh, err
		}
	}
	s.meter.authFailed(credentialFailure(fresh, ok))
	return fsm.User{}, errBadCredentials
}

// credentialFailure says why a password check for user u (found or not)
// failed.
func credentialFailure(u fsm.User, found bool) authFailure {
	switch {
	case !found:
		return failUnknown
	case !u.Enabled:
		return failDisabled
	}
	return failBadPassword
}

// passwordMatches reports whether password is u's and u may log in. An
// unknown user, or one whose stored hash cannot be verified (verifiable), is
// compared against a dummy hash of the cost a real user would have
// (dummyCosts), to spend the same time. It fails only if reserve refused or
// the comparison could not run (verifyCache.check).
func (s *Server) passwordMatches(ctx context.Context, name string, u fsm.User, found bool, password string, reserve func() error) (bool, error) {
	hash := u.Hash
	usable := found && len(hash) > 0 && verifiable(hash)
	if found && len(hash) > 0 && !usable {
		s.warnUnverifiable(name)
	}
	if !usable {
		hash = s.dummies.hash(s.state, name)
	}
	ok, err := s.verify.check(ctx, name, hash, password, reserve)
	return ok && usable && u.Enabled, err
}

// warnUnverifiable logs, once per user and process, that name's stored hash
// is refused unchecked: the user cannot log in until an administrator sets
// a new password.
func (s *Server) warnUnverifiable(name string) {
	if _, logged := s.unverifiable.LoadOrStore(name, true); !logged {
		s.log.Warn("stored password hash is not bcrypt or its cost is above max_cost: every password for the user is refused until an administrator sets a new one",
			"user", name, "max_cost", maxHashCost)
	}
}

// realmOf is the realm a user authenticates against.
func realmOf(u fsm.User) fsm.Realm {
	if u.Realm == (fsm.Realm{}) {
		return fsm.NativeRealm
	}
	return u.Realm
}
