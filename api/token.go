package api

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/api/audit"
	"github.com/tokend/tokend/api/credentials"
	"github.com/tokend/tokend/fsm"
	"github.com/tokend/tokend/raftnode"
)

// Grant types of POST /_security/oauth2/token.
const (
	grantPassword          = "password"
	grantRefreshToken      = "refresh_token"
	grantClientCredentials = "client_credentials"
)

// Invalid grant descriptions, per fsm.Status of a Refresh (Elasticsearch's
// wording).
var refreshFailures = map[fsm.Status]string{
	fsm.NotFound:    "could not refresh the requested token",
	fsm.Expired:     "refresh token is expired",
	fsm.Invalidated: "token has been invalidated",
	fsm.WrongClient: "tokens must be refreshed by the creating client",
	fsm.Reused:      "token has already been refreshed more than 30 seconds in the past",
}

// tokenRequest is the body of POST /_security/oauth2/token. Empty strings
// count as absent, as in Elasticsearch.
type tokenRequest struct {
	GrantType      string `json:"grant_type"`
	Username       string `json:"username"`
	Password       string `json:"password"`
	RefreshToken   string `json:"refresh_token"`
	Scope          string `json:"scope"`
	KerberosTicket string `json:"kerberos_ticket"`
}

// validate checks the request as Elasticsearch's CreateTokenRequest does,
// answering an OAuth invalid_request or unsupported_grant_type.
func (q *tokenRequest) validate() error {
	var msgs []string
	unsupported := func(field, value string) {
		if value != "" {
			msgs = append(msgs, fmt.Sprintf("%s is not supported with the %s grant_type", field, q.GrantType))
		}
	}
	missing := func(field, value string) {
		if value == "" {
			msgs = append(msgs, field+" is missing")
		}
	}
	switch q.GrantType {
	case grantPassword:
		unsupported("kerberos_ticket", q.KerberosTicket)
		unsupported("refresh_token", q.RefreshToken)
		missing("username", q.Username)
		missing("password", q.Password)
	case grantRefreshToken:
		unsupported("username", q.Username)
		unsupported("password", q.Password)
		unsupported("kerberos_ticket", q.KerberosTicket)
		missing("refresh_token", q.RefreshToken)
	case grantClientCredentials:
		unsupported("username", q.Username)
		unsupported("password", q.Password)
		unsupported("kerberos_ticket", q.KerberosTicket)
		unsupported("refresh_token", q.RefreshToken)
	default:
		msgs = append(msgs, "grant_type only supports the values: [password, refresh_token, client_credentials]")
	}
	if len(msgs) == 0 {
		return nil
	}
	code := "invalid_request"
	for _, m := range msgs {
		if strings.Contains(m, "grant_type") {
			code = "unsupported_grant_type"
		}
	}
	return &oauthError{code: code, description: validationText(msgs)}
}

// tokenResponse is the answer to a successful grant.
type tokenResponse struct {
	AccessToken    string   `json:"access_token"`
	Type           string   `json:"type"`
	ExpiresIn      int64    `json:"expires_in"`
	Scope          string   `json:"scope,omitempty"`
	RefreshToken   string   `json:"refresh_token,omitempty"`
	Authentication authJSON `json:"authentication"`
}

// tokenRoute marks every answer of a token route as uncacheable (RFC 6749
// §5.1), errors included.
func (s *tokenRoutes) tokenRoute(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) error {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		return h(w, r, p)
	}
}

// createToken serves POST /_security/oauth2/token. Any node serves the
// password and client_credentials grants: it checks the credentials and
// proposes the new token through writes.ProposeToken, which batches it
// (and needs the node credential or a cluster CA on a follower). A refresh is served by the leader, which
// decides single use, and relayed to it from a follower, under one request
// ID, to the next leader if that one is lost (relay).
func (s *tokenRoutes) createToken(w http.ResponseWriter, r *http.Request, p httprouter.Params) error {
	r, err := adoptRequestID(r)
	if err != nil {
		return err
	}
	if !s.node.IsLeader() {
		if r.Header.Get(headerForwarded) != "" {
			return fromNode(raftnode.ErrNotLeader) // never a second hop
		}
		if id, _ := s.node.Leader(); id == "" {
			return s.members.NoLeader(r.Context())
		}
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var q tokenRequest
	if err := decodeJSON(body, &q); err != nil {
		return err
	}
	if err := q.validate(); err != nil {
		return err
	}
	if (q.GrantType == grantRefreshToken || !s.writes.BatchesForwardable()) && !s.node.IsLeader() {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if q.GrantType == grantRefreshToken {
			return s.commits.relay(w, r, p, s.createToken)
		}
		// The leader draws these tokens: sent again, it would draw others,
		// so the grant goes to the leader once.
		s.meter.unbatched.Inc()
		return s.forwarder.Forward(w, r, clientAddr(r))
	}
	switch q.GrantType {
	case grantPassword:
		return s.passwordGrant(w, r, &q)
	case grantClientCredentials:
		return s.clientCredentialsGrant(w, r, &q)
	}
	return s.refreshGrant(w, r, &q)
}

// grant is a token about to be issued.
type grant struct {
	grantType string // counted in tokend_tokens_issued_total
	user      fsm.User
	realm     fsm.Realm
	client    string // creating client, "" if the request was anonymous
	authType  string // of the authentication object in the answer
	refresh   bool   // issue a refresh token too
	scope     string
	// The credentials the grant was made on, re-checked when the token is
	// committed (fsm.CreateToken): the password hash they matched, or the
	// access token they presented.
	checkedHash  []byte
	checkedToken fsm.Digest
}

// passwordGrant issues a token pair for a username and password. Any
// credentials on the request identify the creating client.
func (s *tokenRoutes) passwordGrant(w http.ResponseWriter, r *http.Request, q *tokenRequest) error {
	caller, err := s.gate.optionalAuth(r)
	if err != nil {
		return err
	}
	u, err := s.gate.checkPassword(r, q.Username, q.Password)
	if errors.Is(err, credentials.ErrBadCredentials) {
		s.gate.auditRequest(r, audit.ActionAuthenticationFailed, nil, q.Username, "")
		return unauthorized(fmt.Sprintf("unable to authenticate user [%s] for REST request [%s]", echoed(q.Username), echoed(r.URL.RequestURI())))
	}
	if err != nil {
		return err
	}
	s.gate.auditRequest(r, audit.ActionAuthenticationSuccess, &principal{user: u, realm: realmOf(u), authType: authTypeRealm}, "", "")
	return s.issue(w, r, grant{grantType: grantPassword, user: u, realm: realmOf(u), client: clientOf(caller),
		authType: authTypeRealm, refresh: true, scope: q.Scope, checkedHash: u.Hash})
}

// clientCredentialsGrant issues an access token, without a refresh token,
// to the authenticated caller.
func (s *tokenRoutes) clientCredentialsGrant(w http.ResponseWriter, r *http.Request, q *tokenRequest) error {
	caller, err := s.gate.authenticate(r)
	if err != nil {
		return err
	}
	g := grant{grantType: grantClientCredentials, user: caller.user, realm: caller.realm,
		client: caller.client(), authType: caller.authType, scope: q.Scope, checkedToken: caller.token}
	if caller.token.IsZero() {
		g.checkedHash = caller.user.Hash
	}
	return s.issue(w, r, g)
}

// issue creates the tokens of g and answers them.
func (s *tokenRoutes) issue(w http.ResponseWriter, r *http.Request, g grant) error {
	var p credentials.Pair
	c := &fsm.CreateToken{User: g.user.Username, Realm: g.realm,
		Lifetime: s.cfg.TokenTimeout.Milliseconds(), Client: g.client}
	p.Access, c.Access = credentials.NewToken(credentials.AccessPrefix)
	if g.refresh {
		p.Refresh, c.Refresh = credentials.NewToken(credentials.RefreshPrefix)
	}
	if g.checkedHash != nil {
		c.PasswordCheck = sha256.Sum256(g.checkedHash)
	}
	c.TokenCheck = g.checkedToken
	// The state machine refuses the token if the user was deleted or
	// disabled, or the credentials changed, since they were checked. This
	// node need not wait to apply the new token: a node that does not know a
	// token catches up before it answers (read-your-writes holds through
	// reads.CatchUp).
	res, err := s.writes.ProposeToken(r.Context(), c)
	if err != nil {
		return err
	}
	if res.Status != fsm.OK {
		return unauthorized(fmt.Sprintf("unable to authenticate user [%s] for REST request [%s]",
			g.user.Username, echoed(r.URL.RequestURI())))
	}
	s.meter.issued[g.grantType].Inc()
	s.writeToken(w, r, p, g)
	return nil
}

// refreshGrant spends a refresh token for a new pair. The new pair is sealed
// under the old refresh token and proposed with it, so that a retry within
// the grace window gets the same pair back (fsm.Retried).
func (s *tokenRoutes) refreshGrant(w http.ResponseWriter, r *http.Request, q *tokenRequest) error {
	caller, err := s.gate.optionalAuth(r)
	if err != nil {
		return err
	}
	presented, ok := credentials.ParseToken(credentials.RefreshPrefix, q.RefreshToken)
	if !ok {
		s.meter.refreshed(fsm.NotFound)
		return invalidGrant(refreshFailures[fsm.NotFound])
	}
	var p credentials.Pair
	c := &fsm.Refresh{Presented: presented, Client: clientOf(caller),
		Lifetime: s.cfg.TokenTimeout.Milliseconds(), RevokeOnReplay: !s.cfg.DisableReplayRevocation}
	p.Access, c.NewAccess = credentials.NewToken(credentials.AccessPrefix)
	p.Refresh, c.NewRefresh = credentials.NewToken(credentials.RefreshPrefix)
	if c.Sealed, err = credentials.SealPair(q.RefreshToken, p); err != nil {
		return err
	}
	res, index, err := s.commits.propose(r.Context(), w, c)
	if err != nil {
		return err
	}
	s.meter.refreshed(res.Status)
	switch res.Status {
	case fsm.OK:
		if p, err = s.spentFor(q.RefreshToken, presented, c.Sealed, p); err != nil {
			return err
		}
	case fsm.Retried:
		if p, err = credentials.OpenPair(q.RefreshToken, res.Sealed); err != nil {
			s.log.Error("cannot open the sealed pair of a retried refresh", "err", err)
			return invalidGrant(refreshFailures[fsm.NotFound])
		}
	default:
		if res.Status == fsm.Reused {
			s.logReplay(r, presented, res.Revoked)
		}
		// A refusal says the refresh token is spent or revoked, the first
		// time (Revoked > 0 on a replay) or again: either holds everywhere
		// before it is answered.
		s.revocations.Await(r.Context(), index)
		return invalidGrant(refreshFailures[res.Status])
	}
	u, found := s.state.User(res.User)
	if !found {
		u = fsm.User{Username: res.User}
	}
	s.writeToken(w, r, p, grant{user: u, realm: res.Realm, authType: authTypeRealm, refresh: true, scope: q.Scope})
	return nil
}

// spentFor returns the pair the spend of presented stored: p, sealed as
// sealed, unless the spend that committed was an earlier send of the same
// request (a follower sends a refresh again, with its request ID, when the
// leader it first went to is lost). The state machine then answered OK from
// its record of that request, and the pair to answer is the one that send
// stored, sealed under the refresh token.
func (s *tokenRoutes) spentFor(refreshToken string, presented fsm.Digest, sealed []byte, p credentials.Pair) (credentials.Pair, error) {
	rec, ok := s.state.RefreshToken(presented)
	if !ok || subtle.ConstantTimeCompare(rec.Sealed, sealed) == 1 {
		return p, nil
	}
	stored, err := credentials.OpenPair(refreshToken, rec.Sealed)
	if err != nil {
		s.log.Error("cannot open the sealed pair of a refresh sent twice", "err", err)
		return credentials.Pair{}, invalidGrant(refreshFailures[fsm.NotFound])
	}
	return stored, nil
}

// logReplay records a refresh token presented again after its retry window,
// the sign of a stolen token (RFC 9700 §4.14.2): whose it was, which realm,
// from which client address, and how many descendant tokens were revoked.
// It names the owner, never the token.
func (s *tokenRoutes) logReplay(r *http.Request, presented fsm.Digest, revoked int) {
	rec, _ := s.state.RefreshToken(presented)
	s.log.Warn("refresh token replayed after the retry window",
		"event", "refresh_token_reuse", "user", rec.User, "realm", rec.Realm.Name,
		"client_addr", clientAddr(r), "revoked", revoked)
}

// invalidGrant is an OAuth invalid_grant error.
func invalidGrant(description string) error {
	if description == "" {
		description = refreshFailures[fsm.NotFound]
	}
	return &oauthError{code: "invalid_grant", description: description}
}

// clientOf is the creating-client identity of a possibly anonymous caller.
func clientOf(p *principal) string {
	if p == nil {
		return ""
	}
	return p.client()
}

// writeToken answers a granted token pair.
func (s *tokenRoutes) writeToken(w http.ResponseWriter, r *http.Request, p credentials.Pair, g grant) {
	var scope string
	if g.scope != "" {
		scope = "FULL" // the only scope tokend (like Elasticsearch) issues
	}
	expiresIn := int64(s.cfg.TokenTimeout.Seconds())
	if !wantsPretty(r) {
		if auth, ok := s.answers.body(&principal{user: g.user, realm: g.realm, authType: g.authType}); ok {
			writeJSONBody(w, http.StatusOK, appendTokenResponse(nil, p, expiresIn, scope, auth))
			return
		}
	}
	writeJSON(w, r, http.StatusOK, tokenResponse{
		AccessToken:    p.Access,
		Type:           "Bearer",
		ExpiresIn:      expiresIn,
		Scope:          scope,
		RefreshToken:   p.Refresh,
		Authentication: authView(g.user, g.realm, g.authType),
	})
}

// appendTokenResponse appends the bytes json.Marshal gives for a
// tokenResponse of p, expiresIn and scope whose authentication object
// encodes as auth (a cached _authenticate answer), without reflection: a
// grant is answered thousands of times a second.
func appendTokenResponse(b []byte, p credentials.Pair, expiresIn int64, scope string, auth []byte) []byte {
	b = appendJSONString(append(b, `{"access_token":`...), p.Access)
	b = strconv.AppendInt(append(b, `,"type":"Bearer","expires_in":`...), expiresIn, 10)
	if scope != "" {
		b = appendJSONString(append(b, `,"scope":`...), scope)
	}
	if p.Refresh != "" {
		b = appendJSONString(append(b, `,"refresh_token":`...), p.Refresh)
	}
	b = append(append(b, `,"authentication":`...), auth...)
	return append(b, '}')
}

// appendJSONString appends s as encoding/json encodes a string. Tokens and
// scopes are plain ASCII and are copied as they are; anything else goes
// through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	if !jsonPlain(s) {
		enc, _ := json.Marshal(s)
		return append(b, enc...)
	}
	return append(append(append(b, '"'), s...), '"')
}

// jsonPlain reports whether json.Marshal encodes s as s between quotes.
func jsonPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
