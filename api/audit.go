package api

import (
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/tokend/tokend/api/audit"
	"github.com/tokend/tokend/raftnode/cluster"
)

// auditRequest writes a request event of action about r to the audit
// trail, if there is one. p is the authenticated caller (nil if none);
// user names the user a failed authentication claimed. privilege is the
// Elasticsearch action an access event is about. No value that could
// authenticate anyone or find a stored credential is written.
func (s *gate) auditRequest(r *http.Request, action string, p *principal, user, privilege string) {
	if s.cfg.Audit == nil {
		return
	}
	e := audit.Event{Action: action, UserName: user, OriginType: "rest", OriginAddress: clientAddr(r),
		URLPath: r.URL.Path, Method: r.Method, Privilege: privilege}
	if p != nil {
		e.UserName, e.UserRealm, e.AuthType = p.user.Username, p.realm.Name, esAuthTypes[p.authType]
	}
	if id, ok := cluster.RequestIDIn(r.Context()); ok {
		e.RequestID = hex.EncodeToString(id[:])
	}
	if err := s.cfg.Audit.Request(e); err != nil {
		s.log.Error("audit: cannot write a request event", "action", action, "err", err)
	}
}

// esAuthTypes are Elasticsearch's authentication.type values for
// principal.authType.
var esAuthTypes = map[string]string{authTypeRealm: "REALM", authTypeToken: "TOKEN"}

// auditAuthFailure writes the event of a failed authentication: a
// malformed token or header is a tampered request, anything else a 401
// is an authentication failure. Refusals that say nothing about the
// credentials (rate limits, no leader) are not written.
func (s *gate) auditAuthFailure(r *http.Request, err error, user string) {
	var e *esError
	switch {
	case errors.Is(err, errTokenMalformed), errors.Is(err, errTwoCredentials), errors.Is(err, errBadHeader):
		s.auditRequest(r, audit.ActionTamperedRequest, nil, user, "")
	case errors.As(err, &e) && e.status == http.StatusUnauthorized:
		s.auditRequest(r, audit.ActionAuthenticationFailed, nil, user, "")
	}
}
